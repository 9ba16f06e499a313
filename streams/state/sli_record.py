"""The SLI record: what ingest hands the window agent on ``sloburn.sli``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True)
class SliRecord:
    """One ingest batch's counts for one SLO from one source partition.

    Each contribution keeps its source message's offset: the window agent applies exactly the
    messages a table block does not hold yet, however ingest cut its batches (a batch re-run
    after a crash may be cut differently). Internal (we write and read it): a plain dataclass.
    """

    slo: str
    counts: list[tuple[int, int, int, int]]  # (source offset, bucket start unix s, bad, total)
    newest_ts: float  # unix seconds
    # Where the offsets count: the partition number of sloburn.outcomes ("3"), or
    # "<topic>:<partition>" for another input topic (OTLP), whose offsets are another sequence.
    source: str


def pack(records: Iterable[SliRecord]) -> bytes:
    """Records as one message: a JSON array of ``[slo, counts, newest_ts, source]``. One
    message per SLI partition and batch, not per SLO: with ten thousand SLOs a message per
    SLO made the window agent's per-message cost the worker's limit."""
    return orjson.dumps([[r.slo, r.counts, r.newest_ts, r.source] for r in records])


def unpack(raw: bytes) -> list[SliRecord]:
    """Inverse of pack; ValueError for anything pack would not have written (the topic is
    ours, but a record the window table cannot take must not reach it)."""
    return [record(item) for item in items(raw)]


def items(raw: bytes) -> list[Any]:
    """The undecoded records of a message: a pack's, or the one record that workers before
    packing wrote per message (such records may still wait on the topic). ValueError when it
    is neither: nothing of it can be read."""
    doc = orjson.loads(raw)
    if type(doc) is list and doc and type(doc[0]) is str:
        return [doc]  # one record
    if type(doc) is not list or not doc:
        raise ValueError(_EXPECTED)
    return doc


_EXPECTED = "not an SLI record: expected [slo, [[offset, start, bad, total]...], newest_ts, source]"


def record(item: object) -> SliRecord:
    """One record from its JSON form; ValueError when it is not one."""
    if type(item) is not list or len(item) != 4:
        raise ValueError(_EXPECTED)
    slo, counts, newest, part = item
    if not (
        type(slo) is str
        and type(counts) is list
        and type(newest) in (int, float)
        and ((type(part) is int and part >= 0) or (type(part) is str and 0 < len(part) <= 300))
        and all(type(c) is list and len(c) == 4 and all(type(x) is int for x in c) for c in counts)
    ):
        raise ValueError(_EXPECTED)
    return SliRecord(slo, [tuple(c) for c in counts], float(newest), str(part))
