"""Bearer tokens: named approvers from the environment, nothing accepted by accident."""

from __future__ import annotations

from streams.http.auth import approver, load_tokens


def test_tokens_name_their_approver() -> None:
    tokens = load_tokens({"SLOBURN_API_TOKENS": " alice:s3cret , bob:0ther,,anon-token "})
    assert tokens == {"s3cret": "alice", "0ther": "bob", "anon-token": "token-4"}


def test_no_tokens_configured_means_no_one_can_write() -> None:
    assert load_tokens({}) == {}
    assert approver("Bearer anything", {}) is None


def test_only_an_exact_bearer_token_authenticates() -> None:
    tokens = {"s3cret": "alice"}
    assert approver("Bearer s3cret", tokens) == "alice"
    for header in (
        None,
        "",
        "s3cret",
        "Basic s3cret",
        "Bearer s3cre",
        "Bearer s3cret ",
        "bearer s3cret",
        "Bearer ",
    ):
        assert approver(header, tokens) is None, header
