"""The typed fast path (streams.ingest.plain_batch) gives the strict path's answers: the same
counts, verdicts, watermarks and dead letters on any message, and it is taken for the plain
messages nearly every producer sends."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.config.loading import load_config
from streams.config.model import Config
from streams.ingest.aggregate import Aggregate
from streams.ingest.dead_letters import Rejection, dlq_record
from streams.ingest.outcomes import Items, ingest_message, read_outcomes
from streams.ingest.plain_batch import GROUPS_FROM, count_plain

NOW = 1_795_514_400.0
CONFIG = """\
services:
  checkout-api: {sli_type: success_rate, target: 0.999, window_days: 30}
  search-api: {sli_type: latency, target: 0.99, window_days: 30, latency_threshold_ms: 300}
  ledger-api: {sli_type: success_rate, target: 0.999, window_days: 30, success_codes: [200]}
  pay-api:
    {sli_type: success_rate, target: 0.999, window_days: 30, operations: ["POST /pay", "/refund"]}
  img-api:
    sli_type: latency
    target: 0.99
    window_days: 30
    latency_threshold_ms: 250
    operations: ["/img"]
journeys:
  buy:
    target: 0.99
    window_days: 30
    members:
      "checkout-api:success_rate": {weight: 2}
      "search-api:latency": {}
      "img-api:latency": {weight: 3}
"""
SERVICES = ["checkout-api", "search-api", "ledger-api", "pay-api", "img-api"]


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Config:
    path = tmp_path_factory.mktemp("plain") / "slo.yaml"
    path.write_text(CONFIG)
    return load_config([path], env={})


def strict(raw: bytes, cfg: Config, now: float) -> Items | Rejection:
    """sloburn.outcomes' reader under another name: ingest_message then skips the fast path."""
    return read_outcomes(raw, cfg, now)


PLAIN = st.fixed_dictionaries(
    {
        "service": st.sampled_from(SERVICES),
        "ts": st.one_of(st.floats(NOW - 400, NOW + 10), st.integers(int(NOW) - 400, int(NOW))),
        "status_code": st.integers(100, 599),
    },
    optional={
        "latency_ms": st.one_of(st.none(), st.floats(0, 600), st.integers(0, 600)),
        "route": st.one_of(st.none(), st.sampled_from(["/pay", "POST /pay", "/refund", "/x"])),
        "ok": st.one_of(st.none(), st.booleans()),
        "trace_id": st.text(max_size=5),
    },
)
# Plain outcomes close in time and alike in few values: judged in groups (many per group).
ALIKE = st.fixed_dictionaries(
    {
        "service": st.sampled_from(SERVICES),
        "ts": st.sampled_from([NOW - 95.5, NOW - 91, NOW - 90, NOW - 3.25, NOW]),
        "status_code": st.sampled_from([200, 201, 404, 500, 503]),
    },
    optional={
        "latency_ms": st.one_of(st.none(), st.sampled_from([0, 249.5, 250, 299, 300, 301.5])),
        "route": st.one_of(st.none(), st.sampled_from(["/pay", "POST /pay", "/img", "/x"])),
        "ok": st.one_of(st.none(), st.booleans()),
    },
)
ANYTHING = st.fixed_dictionaries(
    {},
    optional={
        "service": st.one_of(
            st.sampled_from([*SERVICES, "unknown", ""]), st.integers(-(2**63), 2**63 - 1), st.none()
        ),
        "ts": st.one_of(
            st.floats(NOW - 1000, NOW + 1000),
            st.sampled_from(["2026-11-24T09:59:00Z", True, 0, -5, "x", None]),
            st.floats(allow_nan=False),
        ),
        "status_code": st.one_of(st.integers(50, 700), st.sampled_from([200.0, "200", True])),
        "latency_ms": st.one_of(st.none(), st.floats(-5, 600), st.sampled_from(["5", True])),
        "route": st.one_of(st.none(), st.sampled_from(["/pay", "POST /pay", 5, "x" * 600])),
        "ok": st.one_of(st.none(), st.booleans(), st.just(1)),
        "good": st.one_of(st.integers(-1, 5), st.none()),
        "total": st.integers(0, 6),
        "slo": st.sampled_from(["checkout-api:success_rate", "nope"]),
    },
)
COUNTED = st.fixed_dictionaries(
    {
        "service": st.sampled_from(SERVICES),
        "ts": st.one_of(st.floats(NOW - 400, NOW + 10), st.integers(int(NOW) - 400, int(NOW))),
        "good": st.integers(0, 50),
        "total": st.integers(0, 50),
    },
    optional={"slo": st.sampled_from(["checkout-api:success_rate", "search-api:latency", "x"])},
)
MESSAGES = st.one_of(
    st.lists(PLAIN, max_size=12),  # the common case: the fast path takes it
    st.lists(COUNTED, max_size=6),
    COUNTED,
    PLAIN,
    st.lists(st.one_of(PLAIN, ANYTHING), max_size=8),
    ANYTHING,
    st.lists(st.one_of(PLAIN, st.integers(-(2**63), 2**63 - 1), st.text(max_size=3)), max_size=4),
)
MARKS = st.dictionaries(st.sampled_from(SERVICES), st.floats(NOW - 500, NOW + 20), max_size=3)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MESSAGES, MARKS)
def test_the_fast_path_answers_exactly_as_the_strict_path(
    cfg: Config, doc: Any, marks: dict[str, float]
) -> None:
    raw = orjson.dumps(doc)
    fast, fast_marks = Aggregate(), dict(marks)
    slow, slow_marks = Aggregate(), dict(marks)
    got = ingest_message(raw, cfg, NOW, fast, fast_marks, offset=7)
    want = ingest_message(raw, cfg, NOW, slow, slow_marks, offset=7, read=strict)
    assert [(r.reason, r.error, r.index) for r in got] == [
        (r.reason, r.error, r.index) for r in want
    ]
    if want:
        assert dlq_record(raw, got) == dlq_record(raw, want)
    assert fast == slow
    assert fast_marks == slow_marks


@st.composite
def uniform(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A message of outcomes equal but in a few fields: most of its columns hold one value
    for every outcome, which grouping fills in without counting them."""
    base = draw(ALIKE)
    varying = draw(
        st.sets(st.sampled_from(["service", "ts", "status_code", "latency_ms", "route", "ok"]))
    )
    n = draw(st.integers(GROUPS_FROM, 40))
    return [{**base, **{k: v for k, v in draw(ALIKE).items() if k in varying}} for _ in range(n)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.lists(ALIKE, min_size=GROUPS_FROM, max_size=60), uniform()), MARKS)
def test_outcomes_judged_in_groups_count_as_each_judged_alone(
    cfg: Config, doc: list[dict[str, Any]], marks: dict[str, float]
) -> None:
    raw = orjson.dumps(doc)
    grouped = count_plain(raw, cfg, NOW, marks, 7)
    slow, slow_marks = Aggregate(), dict(marks)
    want = ingest_message(raw, cfg, NOW, slow, slow_marks, offset=7, read=strict)
    if not want and min(o["ts"] for o in doc) >= max([*marks.values(), NOW]) - 300:
        assert grouped is not None  # in time: the grouped judgment, not outcome by outcome
        assert grouped[0] == slow
        assert {**marks, **grouped[1]} == slow_marks


def test_plain_messages_take_the_fast_path_and_anything_else_falls_back(cfg: Config) -> None:
    plain = [{"service": "checkout-api", "ts": NOW - 5, "status_code": 200, "latency_ms": 3}]
    assert count_plain(orjson.dumps(plain), cfg, NOW, {}, 1) is not None
    assert count_plain(orjson.dumps(plain[0]), cfg, NOW, {}, 1) is not None
    counted = {"service": "checkout-api", "ts": NOW - 5, "good": 9, "total": 10}
    assert count_plain(orjson.dumps(counted), cfg, NOW, {}, 1) is not None  # pre-counted
    assert count_plain(orjson.dumps([counted, counted]), cfg, NOW, {}, 1) is not None
    for other in (
        [{**plain[0], "ts": "2026-11-24T09:59:00Z"}],  # an ISO time: the strict path reads it
        [plain[0], {**plain[0], "good": 1, "total": 2}],  # plain and pre-counted in one
        [{"service": "checkout-api", "ts": NOW, "good": 3, "total": 2}],
        [{**plain[0], "service": "unknown"}],  # to be rejected, with its reason
        [{**plain[0], "ts": NOW + 3600}],  # future
        [{**plain[0], "status_code": 200.0}],
    ):
        assert count_plain(orjson.dumps(other), cfg, NOW, {}, 1) is None
    late = count_plain(orjson.dumps(plain), cfg, NOW, {"checkout-api": NOW + 400}, 1)
    assert late is None
