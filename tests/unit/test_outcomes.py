"""Ingest: every outcome either counts towards its SLOs' buckets or is rejected with a reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.config.loading import load_config
from streams.config.model import Config
from streams.ingest.aggregate import Aggregate
from streams.ingest.dead_letters import REASONS, Rejection, dlq_record
from streams.ingest.outcomes import ingest_message, plain_outcome
from streams.ingest.schema import RawOutcome

NOW = 1_795_514_400.0  # 2026-11-24T10:00:00Z
T = NOW - 60  # a recent event time
T_BUCKET = 1_795_514_340  # T floored to 10-s buckets

SERVICE_MAP = """\
services:
  checkout-api:
    sli_type: success_rate
    target: 0.999
    window_days: 30
  search-api:
    sli_type: latency
    target: 0.99
    window_days: 30
    latency_threshold_ms: 300
  ledger-api:
    sli_type: success_rate
    target: 0.999
    window_days: 30
    success_codes: [200]
  payment-gateway:
    sli_type: success_rate
    target: 0.999
    window_days: 30
"""

# The same service again as a latency SLO: payment-gateway then has two SLOs.
POLICY = """\
policy:
  services:
    - name: payment-gateway
      sli: {le: 0.5, success_values: ["200", "201"]}
      slo: {target: 0.9995, window_days: 30}
"""


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Config:
    d: Path = tmp_path_factory.mktemp("outcomes")
    (d / "slo.yaml").write_text(SERVICE_MAP)
    (d / "policy.yaml").write_text(POLICY)
    config = load_config([d / "slo.yaml", d / "policy.yaml"], env={})
    assert [s.id for s in config.slos_of("payment-gateway")] == [
        "payment-gateway:success_rate",
        "payment-gateway:latency",
    ]
    return config


def msg(doc: Any) -> bytes:
    return orjson.dumps(doc)


def outcome(service: str = "checkout-api", **fields: Any) -> dict[str, Any]:
    return {"service": service, "ts": T, "status_code": 200, **fields}


def ingest(
    raw: bytes, cfg: Config, watermarks: dict[str, float] | None = None
) -> tuple[list[Rejection], Aggregate]:
    agg = Aggregate()
    return ingest_message(raw, cfg, NOW, agg, {} if watermarks is None else watermarks), agg


def buckets(agg: Aggregate) -> dict[str, dict[int, list[int]]]:
    """Per SLO, per bucket [bad, total], summed over source messages."""
    out: dict[str, dict[int, list[int]]] = {}
    for slo_id, cells in agg.counts.items():
        for (_, bucket), (bad, total) in cells.items():
            cell = out.setdefault(slo_id, {}).setdefault(bucket, [0, 0])
            cell[0] += bad
            cell[1] += total
    return out


def bad_total(agg: Aggregate, slo_id: str) -> tuple[int, int]:
    """(bad, total) summed over every bucket of one SLO."""
    cells = agg.counts.get(slo_id, {}).values()
    return sum(c[0] for c in cells), sum(c[1] for c in cells)


# ---------------------------------------------------------------------------------------------
# Rejections: one stable reason per kind of problem


REJECTED = [
    ("invalid_json", b'{"service": "checkout-api", ', "(message): not valid JSON: "),
    ("not_an_object", b"42", "expected a JSON object per outcome"),
    ("missing_field", msg({"ts": T, "status_code": 200}), "service: required field is missing"),
    (
        "good_exceeds_total",
        msg({"service": "checkout-api", "ts": T, "good": 5, "total": 4}),
        "good: must not exceed total",
    ),
    (
        "negative_count",
        msg({"service": "checkout-api", "ts": T, "good": -1, "total": 4}),
        "good: must be a non-negative integer, got -1",
    ),
    (
        "unknown_service",
        msg(outcome("billing")),
        "service: 'billing' has no SLO in the loaded config",
    ),
    (
        "invalid_type",
        msg(outcome("search-api", latency_ms="fast")),
        "latency_ms: expected a valid number, got 'fast'",
    ),
    (
        "invalid_value",
        msg(outcome(ts="yesterday")),
        "ts: expected unix seconds or an ISO 8601 time, got 'yesterday'",
    ),
    (
        "future_timestamp",
        msg(outcome(ts=NOW + 301)),
        "ts: 1795514701.000 is more than 300s ahead of now",
    ),
    (
        "unknown_slo",
        msg(
            {"service": "checkout-api", "ts": T, "good": 1, "total": 2, "slo": "search-api:latency"}
        ),
        "slo: expected one of ['checkout-api:success_rate'] for pre-counted outcomes, "
        "got 'search-api:latency'",
    ),
    (
        "ambiguous_slo",
        msg({"service": "payment-gateway", "ts": T, "good": 1, "total": 2}),
        "slo: expected one of ['payment-gateway:success_rate', 'payment-gateway:latency'] "
        "for pre-counted outcomes, got None",
    ),
    (
        "too_large",
        b"[" + b" " * 2**20 + b"]",
        f"(message): {2**20 + 2} bytes, expected at most {2**20}",
    ),
    (
        "late",
        msg(outcome("ledger-api", ts=T - 301)),
        f"ts: {T - 301:.3f} is 301s behind the newest event of 'ledger-api'; "
        "allowed lateness is 300s",
    ),
]


@pytest.mark.parametrize(("reason", "raw", "error"), REJECTED, ids=[r[0] for r in REJECTED])
def test_each_problem_is_rejected_with_its_own_reason_and_counts_nothing(
    cfg: Config, reason: str, raw: bytes, error: str
) -> None:
    rejections, agg = ingest(raw, cfg, watermarks={"ledger-api": T})
    assert [(r.reason, r.raw) for r in rejections] == [(reason, raw)]
    assert rejections[0].error.startswith(error)
    assert agg == Aggregate()


def test_every_reason_code_is_exercised_once() -> None:
    # internal_error is never the input's fault: tests/unit/test_isolation.py injects it;
    # invalid_otlp is an OTLP topic's (tests/unit/test_otlp.py).
    assert sorted(r[0] for r in REJECTED) == sorted(
        set(REASONS) - {"internal_error", "invalid_otlp"}
    )


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"status_code": "200"}, "status_code: expected a valid integer, got '200'"),
        ({"status_code": 200.0}, "status_code: expected a valid integer, got 200.0"),
        ({"ok": "false"}, "ok: expected a valid boolean, got 'false'"),
        ({"service": 7}, "service: expected a valid string, got 7"),
    ],
)
def test_wrong_json_types_are_invalid_type_not_coerced(
    cfg: Config, fields: dict[str, Any], error: str
) -> None:
    rejections, agg = ingest(msg(outcome(**fields)), cfg)
    assert [(r.reason, r.error) for r in rejections] == [("invalid_type", error)]
    assert buckets(agg) == {}


def test_negative_total_is_negative_count(cfg: Config) -> None:
    raw = msg({"service": "checkout-api", "ts": T, "good": 0, "total": -4})
    rejections, _ = ingest(raw, cfg)
    assert [(r.reason, r.error) for r in rejections] == [
        ("negative_count", "total: must be a non-negative integer, got -4")
    ]


def test_timestamp_exactly_max_future_ahead_is_accepted(cfg: Config) -> None:
    rejections, agg = ingest(msg(outcome(ts=NOW + 300)), cfg)
    assert rejections == []
    assert buckets(agg) == {"checkout-api:success_rate": {1_795_514_700: [0, 1]}}


def test_iso_8601_timestamp_is_accepted_as_unix_seconds(cfg: Config) -> None:
    rejections, agg = ingest(msg(outcome(ts="2026-11-24T10:00:00Z")), cfg)
    assert rejections == []
    assert buckets(agg) == {"checkout-api:success_rate": {1_795_514_400: [0, 1]}}
    assert agg.newest == {"checkout-api:success_rate": NOW}


# ---------------------------------------------------------------------------------------------
# The dead-letter record


def test_dlq_record_holds_reason_error_and_original_text(cfg: Config) -> None:
    raw = b'{"service": "billing", "ts": 1795514340.0, "status_code": 200}'
    rejections = ingest(raw, cfg)[0]
    assert orjson.loads(dlq_record(raw, rejections)) == {
        "reason": "unknown_service",
        "error": "service: 'billing' has no SLO in the loaded config",
        "raw": '{"service": "billing", "ts": 1795514340.0, "status_code": 200}',
    }


def test_dlq_record_of_undecodable_bytes_keeps_them_escaped(cfg: Config) -> None:
    rejections = ingest(b"\xff\xfe", cfg)[0]
    record = orjson.loads(dlq_record(b"\xff\xfe", rejections))
    assert record["reason"] == "invalid_json"
    assert record["raw"] == "\\xff\\xfe"


def test_one_dlq_record_per_array_message_lists_each_rejected_element_alone(
    cfg: Config,
) -> None:
    raw = msg([outcome(), 1, {"service": "x"}])
    rejections, _ = ingest(raw, cfg)
    assert orjson.loads(dlq_record(raw, rejections)) == {
        "reason": "not_an_object",
        "error": "expected a JSON object per outcome",
        "raw": raw.decode(),
        "rejected": 2,
        "reasons": {"not_an_object": 1, "missing_field": 1},
        "rejections": [
            {
                "index": 1,
                "reason": "not_an_object",
                "error": "expected a JSON object per outcome",
                "outcome": "1",
            },
            {
                "index": 2,
                "reason": "missing_field",
                "error": "ts: required field is missing",
                "outcome": '{"service":"x"}',
            },
        ],
    }


# ---------------------------------------------------------------------------------------------
# Classification


@pytest.mark.parametrize(
    ("service", "fields", "bad"),
    [
        ("checkout-api", {"status_code": 200}, 0),
        ("checkout-api", {"status_code": 404}, 0),  # only 5xx is bad by default
        ("checkout-api", {"status_code": 499}, 0),
        ("checkout-api", {"status_code": 500}, 1),
        ("checkout-api", {"status_code": 503}, 1),
        ("checkout-api", {"status_code": 200, "ok": False}, 1),  # ok overrides the status
        ("checkout-api", {"status_code": 503, "ok": True}, 0),
        ("ledger-api", {"status_code": 200}, 0),  # success_codes: [200]
        ("ledger-api", {"status_code": 201}, 1),
        ("ledger-api", {"status_code": 404}, 1),
    ],
)
def test_success_rate_counts_an_outcome_bad_unless_it_succeeded(
    cfg: Config, service: str, fields: dict[str, Any], bad: int
) -> None:
    rejections, agg = ingest(msg(outcome(service, **fields)), cfg)
    assert rejections == []
    assert buckets(agg) == {f"{service}:success_rate": {T_BUCKET: [bad, 1]}}


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"latency_ms": 0}, 0),
        ({"latency_ms": 300}, 0),  # at the threshold: good
        ({"latency_ms": 300.5}, 1),
        ({"latency_ms": 20, "status_code": 503}, 1),  # fast but failed
        ({"latency_ms": 20, "status_code": 404}, 0),
        ({"latency_ms": 20, "ok": False}, 1),
    ],
)
def test_latency_is_good_iff_success_and_at_most_the_threshold(
    cfg: Config, fields: dict[str, Any], bad: int
) -> None:
    rejections, agg = ingest(msg(outcome("search-api", **fields)), cfg)
    assert rejections == []
    assert buckets(agg) == {"search-api:latency": {T_BUCKET: [bad, 1]}}


def test_one_outcome_is_judged_by_each_slo_of_its_service(cfg: Config) -> None:
    # 204 is a success for the service map's success rate (not 5xx) but not for the policy's
    # success_values ["200", "201"].
    rejections, agg = ingest(msg(outcome("payment-gateway", status_code=204, latency_ms=10)), cfg)
    assert rejections == []
    assert buckets(agg) == {
        "payment-gateway:success_rate": {T_BUCKET: [0, 1]},
        "payment-gateway:latency": {T_BUCKET: [1, 1]},
    }
    assert agg.accepted == {"payment-gateway": 1}


def test_outcome_without_latency_is_skipped_by_latency_slo_but_counts_for_success_rate(
    cfg: Config,
) -> None:
    rejections, agg = ingest(msg(outcome("payment-gateway", status_code=503)), cfg)
    assert rejections == []
    assert buckets(agg) == {"payment-gateway:success_rate": {T_BUCKET: [1, 1]}}
    assert agg.skipped == {"payment-gateway:latency": 1}
    assert agg.accepted == {"payment-gateway": 1}


def test_latency_only_service_skips_outcome_without_latency(cfg: Config) -> None:
    rejections, agg = ingest(msg(outcome("search-api")), cfg)
    assert rejections == []
    assert buckets(agg) == {}
    assert agg.skipped == {"search-api:latency": 1}


# ---------------------------------------------------------------------------------------------
# Batches, buckets and pre-counted outcomes


def test_batch_counts_valid_elements_even_when_others_are_rejected(cfg: Config) -> None:
    batch = [
        outcome(status_code=200),
        outcome("billing"),
        outcome(status_code=503),
        "not an outcome",
        outcome("search-api", latency_ms=999),
    ]
    rejections, agg = ingest(msg(batch), cfg)
    assert [r.reason for r in rejections] == ["unknown_service", "not_an_object"]
    assert buckets(agg) == {
        "checkout-api:success_rate": {T_BUCKET: [1, 2]},
        "search-api:latency": {T_BUCKET: [1, 1]},
    }
    assert agg.accepted == {"checkout-api": 2, "search-api": 1}


def test_empty_batch_counts_nothing_and_rejects_nothing(cfg: Config) -> None:
    assert ingest(b"[]", cfg) == ([], Aggregate())


def test_outcomes_go_to_the_10s_bucket_of_their_event_time(cfg: Config) -> None:
    batch = [outcome(ts=ts) for ts in (1000.0, 1004.5, 1009.9, 1010.0, 999.9)]
    rejections, agg = ingest(msg(batch), cfg)
    assert rejections == []
    assert agg.contributions("checkout-api:success_rate") == [
        (0, 990, 0, 1),
        (0, 1000, 0, 3),
        (0, 1010, 0, 1),
    ]
    assert agg.newest == {"checkout-api:success_rate": 1010.0}


def test_accepted_is_counted_per_service_across_messages(cfg: Config) -> None:
    agg = Aggregate()
    for raw in (
        msg(outcome()),
        msg([outcome(), outcome("ledger-api")]),
        msg(outcome("billing")),
    ):
        ingest_message(raw, cfg, NOW, agg, {})
    assert agg.accepted == {"checkout-api": 2, "ledger-api": 1}


def test_pre_counted_outcome_on_a_single_slo_service_needs_no_slo(cfg: Config) -> None:
    raw = msg({"service": "checkout-api", "ts": T, "good": 97, "total": 100})
    rejections, agg = ingest(raw, cfg)
    assert rejections == []
    assert buckets(agg) == {"checkout-api:success_rate": {T_BUCKET: [3, 100]}}
    assert agg.accepted == {"checkout-api": 1}


def test_pre_counted_outcome_names_one_of_several_slos(cfg: Config) -> None:
    raw = msg(
        {
            "service": "payment-gateway",
            "ts": T,
            "good": 40,
            "total": 50,
            "slo": "payment-gateway:latency",
        }
    )
    rejections, agg = ingest(raw, cfg)
    assert rejections == []
    assert buckets(agg) == {"payment-gateway:latency": {T_BUCKET: [10, 50]}}


# ---------------------------------------------------------------------------------------------
# Properties


raw_outcomes = st.lists(
    st.fixed_dictionaries(
        {
            "service": st.just("checkout-api"),
            # within the allowed lateness of each other: none is late
            "ts": st.floats(min_value=NOW - 300, max_value=NOW, allow_nan=False),
            "status_code": st.integers(min_value=100, max_value=599),
        },
        optional={
            "latency_ms": st.floats(min_value=0, max_value=1e6, allow_nan=False),
            "route": st.sampled_from(["/cart", "/checkout"]),
        },
    ),
    max_size=50,
)


@given(raw_outcomes)
def test_bucket_totals_sum_to_outcomes_and_bad_to_5xx(cfg: Config, events: list[dict]) -> None:
    rejections, agg = ingest(msg(events), cfg)
    assert rejections == []
    assert bad_total(agg, "checkout-api:success_rate") == (
        sum(e["status_code"] >= 500 for e in events),
        len(events),
    )
    assert agg.accepted.get("checkout-api", 0) == len(events)


def test_an_event_within_the_allowed_lateness_updates_its_own_bucket(cfg: Config) -> None:
    marks = {"checkout-api": T + 300}
    rejections, agg = ingest(msg(outcome(ts=T, status_code=503)), cfg, marks)
    assert rejections == []
    assert buckets(agg)["checkout-api:success_rate"] == {T - T % 10: [1, 1]}
    assert marks == {"checkout-api": T + 300}  # an older event never moves the watermark back


def test_the_watermark_follows_the_newest_accepted_event(cfg: Config) -> None:
    marks: dict[str, float] = {}
    ingest(msg([outcome(ts=T + 5), outcome(ts=T)]), cfg, marks)
    assert marks == {"checkout-api": T + 5}


def test_contributions_stay_apart_per_source_message(cfg: Config) -> None:
    # Two messages into one bucket: the window tables must be able to skip either one alone.
    agg = Aggregate()
    ingest_message(msg(outcome(ts=1000.0)), cfg, NOW, agg, {}, offset=7)
    ingest_message(msg(outcome(ts=1001.0, status_code=503)), cfg, NOW, agg, {}, offset=8)
    assert agg.contributions("checkout-api:success_rate") == [(7, 1000, 0, 1), (8, 1000, 1, 1)]


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=210),
    st.sampled_from(["2026-11-24T10:00:00Z", "", "a" * 201, "a" * 200]),
)


@settings(max_examples=3000, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "service": _values,
            "ts": _values,
            "status_code": _values,
            "latency_ms": _values,
            "ok": _values,
            "route": _values,
            "extra": _values,
        },
    )
)
def test_the_plain_shape_fast_path_never_accepts_what_full_validation_rejects(obj: dict) -> None:
    fast = plain_outcome(obj)
    if fast is None:
        return  # full validation decides
    full = RawOutcome.model_validate(obj)
    assert (fast.service, fast.ts, fast.status_code, fast.latency_ms, fast.ok) == (
        full.service,
        full.ts,
        full.status_code,
        full.latency_ms,
        full.ok,
    )


def test_the_fast_path_takes_the_usual_shapes() -> None:
    assert plain_outcome({"service": "a", "ts": 1795547000, "status_code": 200}) is not None
    assert (
        plain_outcome({"service": "a", "ts": 1.5, "status_code": 503, "latency_ms": 3}) is not None
    )
    assert plain_outcome({"service": "a", "ts": "2026-11-24T10:00:00Z", "status_code": 200}) is None
