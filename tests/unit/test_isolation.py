"""One message never costs another: hostile shapes are judged, a failure while judging one
message is contained to it, and one message writes one dead-letter record."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import orjson
import pytest

from streams.ingest.aggregate import Aggregate
from streams.ingest.dead_letters import DLQ_LISTED_MAX, dlq_record
from streams.ingest.outcomes import ingest_message
from streams.runtime import failpoints
from streams.runtime.agents.ingest import fault_point
from streams.state.sli_record import SliRecord, pack, unpack
from tests.unit.test_hostile_input import CFG, NOW

GOOD = {"service": "checkout-api", "ts": NOW - 30, "status_code": 200}
BAD = {"service": "checkout-api", "ts": NOW - 30, "status_code": 503}
NESTED = b"[" * 300 + b"]" * 300  # under orjson's read depth (1024), over its write depth (254)


def test_an_array_nested_300_deep_is_rejected_and_the_good_outcomes_beside_it_count() -> None:
    raw = b"[" + orjson.dumps(GOOD) + b"," + NESTED + b"," + orjson.dumps(BAD) + b"]"
    agg = Aggregate()
    rejections = ingest_message(raw, CFG, NOW, agg, {}, offset=7)
    assert [(r.reason, r.index) for r in rejections] == [("not_an_object", 1)]
    assert agg.accepted == {"checkout-api": 2}
    record = orjson.loads(dlq_record(raw, rejections))
    assert record["reason"] == "not_an_object" and record["raw"] == raw.decode()
    # The element cannot be written back by the encoder; its index points into raw.
    assert record["rejections"] == [
        {"index": 1, "reason": "not_an_object", "error": "expected a JSON object per outcome"}
    ]


def test_a_message_that_is_only_a_deeply_nested_array_gets_one_dlq_record() -> None:
    rejections = ingest_message(NESTED, CFG, NOW, Aggregate(), {}, offset=1)
    assert [r.reason for r in rejections] == ["not_an_object"]
    assert orjson.loads(dlq_record(NESTED, rejections))["rejected"] == 1


def test_a_hundred_thousand_bad_elements_make_one_bounded_dlq_record() -> None:
    raw = b"[" + b",".join([b"1"] * 100_000) + b"]"
    rejections = ingest_message(raw, CFG, NOW, Aggregate(), {}, offset=1)
    assert len(rejections) == 100_000  # each is still counted by reason
    record = orjson.loads(dlq_record(raw, rejections))
    assert record["rejected"] == 100_000
    assert record["reasons"] == {"not_an_object": 100_000}
    assert len(record["rejections"]) == DLQ_LISTED_MAX
    assert record["rejections_not_listed"] == 100_000 - DLQ_LISTED_MAX
    assert len(dlq_record(raw, rejections)) < 300 * 1024


@pytest.fixture
def ingest_fails_on_boom(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(failpoints, "_POINTS", {"ingest": b"BOOM"})


def test_an_unexpected_error_rejects_only_its_message_and_leaves_no_partial_counts(
    ingest_fails_on_boom: None,
) -> None:
    agg, marks = Aggregate(), {"checkout-api": NOW - 100}
    first = orjson.dumps([GOOD, BAD])
    assert ingest_message(first, CFG, NOW, agg, marks, offset=1, judged=fault_point) == []
    before = (copy.deepcopy(agg.counts), dict(agg.accepted), dict(agg.newest))
    poisoned = orjson.dumps([GOOD, BAD, {**GOOD, "ts": NOW + 100, "route": "BOOM"}])
    [rej] = ingest_message(poisoned, CFG, NOW, agg, marks, offset=2, judged=fault_point)
    assert (rej.reason, rej.error) == ("internal_error", "InjectedFault: failpoint ingest hit")
    assert rej.raw == poisoned and rej.index is None
    # Nothing of the failed message stayed: counts, accepted, newest and the watermark.
    assert (agg.counts, agg.accepted, agg.newest) == before
    assert marks == {"checkout-api": NOW - 30}
    assert ingest_message(first, CFG, NOW, agg, marks, offset=3, judged=fault_point) == []
    assert agg.accepted == {"checkout-api": 4}


def test_an_internal_error_record_names_the_exception_class_and_the_source(
    ingest_fails_on_boom: None,
) -> None:
    raw = orjson.dumps({**GOOD, "route": "BOOM"})
    rejections = ingest_message(raw, CFG, NOW, Aggregate(), {}, offset=9, judged=fault_point)
    where: dict[str, Any] = {"topic": "sloburn.outcomes", "partition": 3, "offset": 9}
    assert orjson.loads(dlq_record(raw, rejections, where)) == {
        "reason": "internal_error",
        "error": "InjectedFault: failpoint ingest hit",
        "raw": raw.decode(),
        **where,
    }


@pytest.mark.parametrize(
    "raw",
    [
        b'["s", [[1, 2, 3]], 1.0, 0]',
        b'["s", [[1, 2, 3, "4"]], 1.0, 0]',
        b"[7, [], 1.0, 0]",
        b'["s", [], 1.0, -1]',
        b'["s", {}, 1.0, 0]',
        b'[["s", [], 1.0, "0"], ["s", [[1, 2, 3]], 1.0, 0]]',
        b'[["s", [], 1.0, "0"], 7]',
        b"[]",
        b'{"slo": "s"}',
    ],
)
def test_an_sli_record_the_window_table_cannot_take_is_refused_before_it(raw: bytes) -> None:
    with pytest.raises(ValueError):
        unpack(raw)


def test_sli_records_round_trip_packed_and_one_record_messages_still_read() -> None:
    recs = [SliRecord("a:b", [(1, 10, 0, 1)], 12.5, "2"), SliRecord("c:d", [], 3.0, "t:1")]
    assert unpack(pack(recs)) == recs
    assert unpack(b'["a:b", [[1, 10, 0, 1]], 12.5, "2"]') == recs[:1]  # before packing


def test_replay_judges_a_line_holding_a_deeply_nested_array_like_ingest() -> None:
    from streams.replay.engine import InProcess, run

    line = b"[" + orjson.dumps(GOOD) + b"," + NESTED + b"]"
    backend = InProcess(CFG, NOW)
    run([line], CFG, backend, 60, NOW, lambda rows: None)
    assert backend.rejected() == {"not_an_object": 1}


@pytest.mark.parametrize(
    "value", [[1] * 100_000, "x" * 500_000, NESTED.decode()], ids=["array", "string", "deep"]
)
def test_an_error_names_a_huge_field_value_in_brief(value: Any) -> None:
    # Found by scripts/fuzz: a 430 KB array in `service` made a 490 KB error text.
    raw = (
        orjson.dumps({**GOOD, "service": value})
        if value != NESTED.decode()
        else (b'{"service":' + NESTED + b',"ts":1,"status_code":200}')
    )
    [rej] = ingest_message(raw, CFG, NOW, Aggregate(), {}, offset=1)
    assert rej.reason in ("invalid_type", "invalid_value") and len(rej.error) < 200


def test_sli_records_of_a_big_batch_stay_small_and_never_split_one_message() -> None:
    # A week of history in one ingest batch made a 1.3 MB SLI record, which the producer
    # refused (MessageSizeTooLargeError).
    from streams.ingest.aggregate import RECORD_CONTRIBUTIONS_MAX
    from streams.state.buckets import BucketStore

    agg = Aggregate()
    for offset in range(3 * RECORD_CONTRIBUTIONS_MAX // 2):
        for bucket in range(2):  # each message spans two buckets of one hour
            agg.add("a:b", NOW - 3600 * 200 + offset * 20 + bucket * 10, 10, 0, 1, offset)
    records = agg.records("3")
    assert len(records) == 3
    assert all(len(pack([r])) < 2**20 // 2 for r in records)
    for before, after in itertools.pairwise(records):
        assert before.counts[-1][0] < after.counts[0][0]  # cuts fall between messages only
    assert sum(len(r.counts) for r in records) == 3 * RECORD_CONTRIBUTIONS_MAX

    one, split = BucketStore({}, 10, {}), BucketStore({}, 10, {})
    one.apply([SliRecord("a:b", [c for r in records for c in r.counts], NOW, "3")])
    split.apply(records)
    lo, hi = NOW - 3600 * 300, NOW
    assert split.range("a:b", lo, hi, 10) == one.range("a:b", lo, hi, 10)


def test_a_record_that_fails_costs_no_other_record_of_its_pack(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from streams.runtime import failpoints
    from streams.runtime.agents.windows import read_records

    monkeypatch.setitem(failpoints._POINTS, "windows", b"winfail")
    recs = [
        SliRecord("a:b", [(1, 10, 0, 1)], 1.0, "0"),
        SliRecord("winfail-api:x", [(2, 10, 1, 1)], 1.0, "0"),
        SliRecord("c:d", [(3, 10, 0, 2)], 1.0, "0"),
    ]
    into: list[SliRecord] = []
    failed = read_records(pack(recs), into)
    assert into == [recs[0], recs[2]]
    assert [(orjson.loads(raw)[0], type(e).__name__) for raw, e in failed] == [
        ("winfail-api:x", "InjectedFault")
    ]
    into = []
    assert [raw for raw, _ in read_records(b"not json", into)] == [b"not json"]
    assert into == []
