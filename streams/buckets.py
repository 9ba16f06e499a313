"""Event-time buckets per SLO, exact window sums, and replay-safe (deduplicated) updates.

State lives in a ``MutableMapping[str, dict]`` so the worker can hand in a changelog-backed Faust
table and ``replay``/tests a plain dict: one code path for both. Each value is one *block*: an
hour of one SLO, holding its base buckets (bounded: 3600 / bucket_seconds entries), their sum
(the hour roll-up, so long windows add up hours instead of thousands of buckets), the newest
event time seen, and the last applied source offset per source partition — stored in the same
record as the counts, so a redelivered update is recognised and skipped after a crash.

Block value (JSON-friendly because Faust serialises it to the changelog)::

    {"c": {"<bucket start>": [bad, total]}, "s": [bad, total], "m": newest_ts,
     "a": {"<source partition>": last_applied_offset}}
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any

from streams.models import SliRecord
from streams.slo_math import Counts

BLOCK_S = 3600

Block = dict[str, Any]


def floor_to(ts: float, step: int) -> int:
    """Start of the step-aligned interval (unix seconds) holding ts."""
    return int(ts // step) * step


def block_key(slo_id: str, block_start: int) -> str:
    """Table key of one hour of one SLO."""
    return f"{slo_id}|{block_start}"


def slo_of_key(key: str) -> str:
    """The SLO id a table key belongs to (keys of every per-SLO table start 'slo|')."""
    return key.rsplit("|", 1)[0]


def apply_to_block(
    block: Block | None,
    counts: Mapping[int, tuple[int, int]],
    newest_ts: float,
    src_partition: int,
    src_offset: int,
) -> Block | None:
    """The block with counts added, or None if this source offset was already applied.

    ``counts`` maps bucket start (unix seconds) to (bad, total) for buckets inside this block.
    """
    b: Block = block if block is not None else {"c": {}, "s": [0, 0], "m": newest_ts, "a": {}}
    part = str(src_partition)
    if b["a"].get(part, -1) >= src_offset:
        return None
    c, s = b["c"], b["s"]
    for start, (bad, total) in counts.items():
        cell = c.get(str(start))
        c[str(start)] = [cell[0] + bad, cell[1] + total] if cell else [bad, total]
        s[0] += bad
        s[1] += total
    b["m"] = max(b["m"], newest_ts)
    b["a"][part] = src_offset
    return b


class BucketStore:
    """Bucketed good/bad counts per SLO over a mapping of blocks; exact sums over any window."""

    def __init__(self, blocks: MutableMapping[str, Block], bucket_s: int) -> None:
        self.blocks = blocks
        self.bucket_s = bucket_s

    def apply(self, records: Iterable[SliRecord]) -> int:
        """Add a batch of SLI records; returns how many records were skipped as already applied.

        Each touched block is written once per batch (one changelog record per hour touched).
        A record is skipped in a block whose stored offset for its source partition is at or
        past the record's: that block already holds it (redelivery after a crash).
        """
        pending: dict[str, Block] = {}
        skipped = 0
        for rec in records:
            by_block: dict[int, dict[int, tuple[int, int]]] = {}
            for start, bad, total in rec.counts:
                per = by_block.setdefault(floor_to(start, BLOCK_S), {})
                old = per.get(start, (0, 0))
                per[start] = (old[0] + bad, old[1] + total)
            applied_any = False
            for bstart, per in by_block.items():
                key = block_key(rec.slo, bstart)
                current = pending.get(key, self.blocks.get(key))
                newest = min(rec.newest_ts, bstart + BLOCK_S - 1e-6)
                new = apply_to_block(current, per, newest, rec.src_partition, rec.src_offset)
                if new is not None:
                    pending[key] = new
                    applied_any = True
            skipped += not applied_any
        for key, block in pending.items():
            self.blocks[key] = block
        return skipped

    def window(self, slo_id: str, t: float, window_s: int) -> Counts:
        """Counts of the buckets whose start lies in (t - window_s, t]."""
        lo = t - window_s
        bad = total = 0
        last_bucket = BLOCK_S - self.bucket_s
        for bstart in range(floor_to(lo, BLOCK_S), floor_to(t, BLOCK_S) + 1, BLOCK_S):
            block = self.blocks.get(block_key(slo_id, bstart))
            if block is None:
                continue
            if bstart > lo and bstart + last_bucket <= t:
                bad += block["s"][0]
                total += block["s"][1]
                continue
            for start, (b, n) in block["c"].items():
                if lo < int(start) <= t:
                    bad += b
                    total += n
        return Counts(bad, total)

    def newest_event(self, slo_id: str) -> float | None:
        """Newest event time (unix seconds) ever applied to an SLO's stored blocks, or None."""
        stamps = [float(self.blocks[k]["m"]) for k in self.keys_of(slo_id)]
        return max(stamps) if stamps else None

    def keys_of(self, slo_id: str) -> Iterator[str]:
        """Every stored block key of an SLO (scans the mapping)."""
        prefix = f"{slo_id}|"
        return (k for k in list(self.blocks.keys()) if k.startswith(prefix))

    def expire(self, slo_id: str, before: float) -> int:
        """Drop blocks that end at or before ``before`` (unix seconds); returns how many."""
        dropped = 0
        for key in self.keys_of(slo_id):
            if int(key.rsplit("|", 1)[1]) + BLOCK_S <= before:
                del self.blocks[key]
                dropped += 1
        return dropped
