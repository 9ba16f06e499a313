"""The SLI record: what ingest hands the window agent on ``sloburn.sli``."""

from __future__ import annotations

from dataclasses import dataclass

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

    def to_bytes(self) -> bytes:
        """Compact JSON array form."""
        return orjson.dumps([self.slo, self.counts, self.newest_ts, self.source])

    @classmethod
    def from_bytes(cls, raw: bytes) -> SliRecord:
        """Inverse of to_bytes; ValueError for anything to_bytes would not have written (the
        topic is ours, but a record the window table cannot take must not reach it)."""
        slo, counts, newest, part = orjson.loads(raw)
        if not (
            type(slo) is str
            and type(counts) is list
            and type(newest) in (int, float)
            and ((type(part) is int and part >= 0) or (type(part) is str and 0 < len(part) <= 300))
            and all(
                type(c) is list and len(c) == 4 and all(type(x) is int for x in c) for c in counts
            )
        ):
            raise ValueError(
                "not an SLI record: expected [slo, [[offset, start, bad, total]...], "
                "newest_ts, source]"
            )
        return cls(slo, [tuple(c) for c in counts], float(newest), str(part))
