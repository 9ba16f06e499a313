"""Finding a send's own rejections among the DLQ's records (streams.kafka.verdict)."""

from __future__ import annotations

import orjson

from streams.ingest.dead_letters import Rejection, dlq_record
from streams.kafka import topics
from streams.kafka.sender import Sent, outcomes_in
from streams.kafka.verdict import Rejections


def record(partition: int, offset: int, raw: bytes, *rejections: Rejection) -> bytes:
    where = {"topic": topics.OUTCOMES, "partition": partition, "offset": offset}
    return dlq_record(raw, list(rejections), where)


def test_only_records_naming_a_sent_message_count_each_rejected_outcome_once() -> None:
    sent = Sent(messages=3, outcomes=5, offsets={(0, 10), (1, 4), (1, 5)})
    found = Rejections()
    found.add(record(0, 10, b"{", Rejection("invalid_json", "x")), sent)
    batch = [Rejection("unknown_service", "x", index=0), Rejection("late", "y", index=2)]
    found.add(record(1, 5, b"[1,2,3]", *batch), sent)
    found.add(record(1, 6, b"{", Rejection("invalid_json", "x")), sent)  # someone else's
    other_topic = orjson.dumps({"topic": "otlp", "partition": 0, "offset": 10, "reason": "a"})
    found.add(other_topic, sent)
    found.add(b"not json", sent)
    assert (found.by_reason, found.total, found.records) == (
        {"invalid_json": 1, "unknown_service": 1, "late": 1},
        3,
        2,
    )


def test_an_acknowledged_offset_is_tracked_and_the_newest_per_partition_known() -> None:
    sent = Sent(offsets={(0, 3), (0, 9), (2, 1)})
    assert sent.newest() == {0: 9, 2: 1}
    assert [outcomes_in(b) for b in (b"{}", b"[{},{},{}]", b"{oops", b"[]")] == [1, 3, 1, 0]
