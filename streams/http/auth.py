"""Bearer tokens for the write endpoints: from the environment, compared in constant time.

``SLOBURN_API_TOKENS="alice:s3cret,bob:0ther"`` names each token's approver; audit records
carry the name, never the token. Nothing here logs.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

TOKENS_ENV = "SLOBURN_API_TOKENS"


def load_tokens(env: Mapping[str, str]) -> dict[str, str]:
    """Approver name by token; entries without a name are named 'token-N'."""
    out: dict[str, str] = {}
    for i, item in enumerate(p.strip() for p in env.get(TOKENS_ENV, "").split(",")):
        if not item:
            continue
        name, sep, token = item.partition(":")
        if not sep:
            name, token = f"token-{i + 1}", item
        if token:
            out[token] = name
    return out


def approver(authorization: str | None, tokens: Mapping[str, str]) -> str | None:
    """The approver a ``Bearer`` header authenticates, or None.

    Every known token is compared (constant time each, no early exit), so timing tells nothing
    about which prefix matched.
    """
    if not authorization or not authorization.startswith("Bearer "):
        return None
    given = authorization[len("Bearer ") :].encode()
    found = None
    for token, name in tokens.items():
        if hmac.compare_digest(given, token.encode()):
            found = name
    return found
