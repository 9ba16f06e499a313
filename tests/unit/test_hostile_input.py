"""Hostile input through the ingest path: nothing crashes, nothing vanishes.

Any bytes, any JSON, and valid-looking outcomes with poisoned fields: every outcome is either
accepted or rejected with a known reason (accepted + rejected == sent), and every DLQ record is
valid JSON naming its reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.config.loading import load_config
from streams.config.model import Config
from streams.ingest.aggregate import Aggregate
from streams.ingest.dead_letters import REASONS, dlq_record
from streams.ingest.outcomes import ingest_message
from streams.kafka.sender import outcomes_in

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_800_000_000.0
CFG = load_config([ROOT / "configs" / "slo_config.yaml"], env={})

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
timestamps = st.one_of(
    st.floats(NOW - 7200, NOW + 7200),
    st.just(0),
    st.just(1.0),
    st.just(-5),
    st.just(253402300799.0),
    st.just(1e300),
    st.just("1970-01-01T00:00:01Z"),
    st.just("9999-12-31T23:59:59Z"),
    st.just("not a time"),
    st.integers(-(2**70), 2**70),
    st.just(True),
    st.none(),
)
outcome_like = st.fixed_dictionaries(
    {
        "service": st.one_of(
            st.sampled_from(["checkout-api", "search-api"]),
            st.text(max_size=30),
            st.integers(),
            st.none(),
        ),
        "ts": timestamps,
    },
    optional={
        "status_code": st.one_of(
            st.integers(-(2**70), 2**70),
            st.sampled_from([200, 503]),
            st.text(max_size=4),
            st.booleans(),
        ),
        "latency_ms": st.one_of(
            st.floats(allow_nan=False), st.integers(-(2**70), 2**70), st.text(max_size=4)
        ),
        "good": st.one_of(st.integers(-(2**70), 2**70), st.integers(0, 1000)),
        "total": st.one_of(st.integers(-(2**70), 2**70), st.integers(0, 1000)),
        "ok": json_values,
        "\x00ctl\x1fkey": json_values,
        "slo": st.one_of(st.text(max_size=20), st.just("checkout-api:success_rate")),
    },
)


def check(raw: bytes, cfg: Config = CFG) -> None:
    agg = Aggregate()
    rejections = ingest_message(raw, cfg, NOW, agg, {"checkout-api": NOW}, offset=1)
    assert sum(agg.accepted.values()) + len(rejections) == outcomes_in(raw)
    for r in rejections:
        assert r.reason in REASONS and r.reason != "internal_error", r
    if rejections:
        record = orjson.loads(dlq_record(raw, rejections))
        assert record["reason"] == rejections[0].reason and record["error"]
    for cells in agg.counts.values():  # accepted counts stay serialisable (64-bit)
        orjson.dumps(list(cells.values()))


def dumps(value: Any) -> bytes:
    """Producers' JSON, which may carry integers beyond 64 bits (orjson refuses to write them)."""
    return json.dumps(value).encode()


def nested(depth: int, inner: bytes) -> bytes:
    return b"[" * depth + inner + b"]" * depth


# Shapes plain generation rarely reaches: arrays nested past what the encoder writes (254)
# up to what the decoder reads (1024) and beyond, huge arrays, numbers past every range.
deep = st.builds(nested, st.integers(200, 1100), st.sampled_from([b"", b"1", b'{"a":1}']))
huge = st.builds(
    lambda n, item: b"[" + b",".join([item] * n) + b"]",
    st.integers(1000, 20_000),
    st.sampled_from([b"1", b"null", b'{"service":"checkout-api"}', b"[[[[]]]]"]),
)
extreme = st.sampled_from(
    [b"1e999", b"-1e999", b"18446744073709551616", b"-9223372036854775809", b"1e-400"]
).map(
    lambda n: (
        b'{"service":"checkout-api","ts":1799999990,"status_code":200,"latency_ms":' + n + b"}"
    )
)
hostile_field = st.builds(
    lambda v: (
        b'[{"service":"checkout-api","ts":1799999990,"status_code":200},'
        b'{"service":' + v + b',"ts":1799999990,"status_code":200}]'
    ),
    st.one_of(deep, huge, extreme.map(lambda _: b"1e999")),
)
messages = st.one_of(
    st.binary(max_size=200),
    json_values.map(dumps),
    outcome_like.map(dumps),
    st.lists(st.one_of(outcome_like, json_values), max_size=8).map(dumps),
    deep,
    huge,
    extreme,
    hostile_field,
)


# 3,000 examples: 10,000 took two minutes of CI (the huge arrays); scripts/fuzz runs the same
# property coverage-guided (fuzz/ingest), 20 s in CI and as long as asked beside it.
@settings(max_examples=3_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=messages)
def test_three_thousand_hostile_messages_are_each_accepted_or_rejected_with_a_reason(
    raw: bytes,
) -> None:
    check(raw)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"[" * 5000 + b"]" * 5000, "invalid_json"),
        (b'{"service":"checkout-api","ts":NaN,"status_code":200}', "invalid_json"),
        (
            b'{"service":"checkout-api","ts":1799999000,"status_code":200,"latency_ms":1e999}',
            "invalid_json",
        ),
        (
            b'{"service":"checkout-api","ts":"9999-12-31T23:59:59Z","status_code":200}',
            "future_timestamp",
        ),
        (
            b'{"service":"checkout-api","ts":1799990000,"good":18446744073709551615,'
            b'"total":18446744073709551615}',
            "invalid_value",
        ),
        (
            '{"service":"ch\u00e9ckout-\u2603","ts":1799999000,"status_code":200}'.encode(),
            "unknown_service",
        ),
        (b'{"service":"\xff\xfe","ts":1799999000,"status_code":200}', "invalid_json"),
        (b"", "invalid_json"),
    ],
)
def test_named_hostile_classes_get_their_reason(raw: bytes, reason: str) -> None:
    agg = Aggregate()
    rejections = ingest_message(raw, CFG, NOW, agg, {}, offset=1)
    assert [r.reason for r in rejections] == [reason]


def test_a_message_over_the_size_cap_is_rejected_whole_and_its_dlq_record_stays_small() -> None:
    big = orjson.dumps([{"service": "checkout-api", "ts": NOW, "status_code": 200}] * 40_000)
    assert len(big) > CFG.settings.max_message_bytes
    agg = Aggregate()
    [rej] = ingest_message(big, CFG, NOW, agg, {}, offset=1)
    assert rej.reason == "too_large" and agg.accepted == {}
    record: dict[str, Any] = orjson.loads(dlq_record(big, [rej]))
    assert record["raw_truncated_from_bytes"] == len(big)
    assert len(record["raw"]) == 64 * 1024
