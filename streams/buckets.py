"""Event-time buckets per SLO, exact range sums at two resolutions, replay-safe updates.

State lives in a ``MutableMapping[str, dict]`` so the worker can hand in a changelog-backed Faust
table and ``replay``/tests a plain dict: one code path for both. Each value is one *block*: one
hour of one SLO, holding

* ``c``: base cells (``bucket_seconds``, default 10 s) — kept while a short window can reach them,
  then dropped by ``compact`` (so memory per SLO is bounded and independent of traffic);
* ``r``: 15-minute roll-up cells, kept for the whole SLO window (15 minutes because every time
  zone in use today is offset from UTC by a multiple of it, so calendar periods start on a cell);
* ``s``: the hour's sum, so a long window adds up hours instead of cells;
* ``m``: newest event time applied; ``a``: last applied source offset per source partition,
  stored in the same record as the counts, so a redelivered update is recognised and skipped;
  ``i``: the broker incarnation those offsets belong to (see streams.broker_watch): offsets of
  a broker that lost its data say nothing about the new one's, so its marks are dropped.

Every applied contribution is also journaled per SLO (``take_changes``), which lets sliding
window sums move incrementally between evaluations and stay exact when late events land inside
a window.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from fractions import Fraction
from typing import Any

from streams.models import SliRecord
from streams.slo_math import Counts

BLOCK_S = 3600
ROLLUP_S = 900

Block = dict[str, Any]
Change = tuple[int, int, int]  # (base bucket start, bad added, total added)


def floor_to(ts: float, step: int) -> int:
    """Start of the step-aligned interval (unix seconds) holding ts."""
    return int(ts // step) * step


def block_key(slo_id: str, block_start: int) -> str:
    """Table key of one hour of one SLO."""
    return f"{slo_id}|{block_start}"


def owner_of_key(key: str) -> str:
    """What a table key's partition follows: its first field (an SLO id or a service name)."""
    return key.split("|", 1)[0]


def _add(cells: dict[str, list[int]], start: int, bad: int, total: int) -> None:
    cell = cells.get(str(start))
    if cell is None:
        cells[str(start)] = [bad, total]
    else:
        cell[0] += bad
        cell[1] += total


def apply_to_block(
    block: Block | None,
    counts: Mapping[int, tuple[int, int]],
    newest_ts: float,
    src_partition: int,
    src_offset: int,
    incarnation: str = "",
) -> Block | None:
    """The block with counts added, or None if this source offset was already applied.

    ``counts`` maps base bucket start (unix s) to (bad, total), all inside this block. A block
    already compacted (no base cells) still takes the counts into its roll-ups and sum.
    """
    b: Block = (
        block
        if block is not None
        else {"c": {}, "r": {}, "s": [0, 0], "m": newest_ts, "a": {}, "i": incarnation}
    )
    part = str(src_partition)
    if b["a"].get(part, -1) >= src_offset:
        return None
    base, rollups, s = b.get("c"), b["r"], b["s"]
    for start, (bad, total) in counts.items():
        if base is not None:
            _add(base, start, bad, total)
        _add(rollups, floor_to(start, ROLLUP_S), bad, total)
        s[0] += bad
        s[1] += total
    b["m"] = max(b["m"], newest_ts)
    b["a"][part] = src_offset
    return b


class BucketStore:
    """Bucketed good/bad counts per SLO over a mapping of blocks; exact sums over any range."""

    def __init__(
        self,
        blocks: MutableMapping[str, Block],
        bucket_s: int,
        slicing: Mapping[str, tuple[int, Fraction]] | None = None,
    ) -> None:
        """``slicing`` maps the id of a timeslices SLO to (slice seconds, slice target)."""
        if BLOCK_S % bucket_s or ROLLUP_S % bucket_s:
            raise ValueError(f"bucket_s must divide {ROLLUP_S}, got {bucket_s}")
        self.blocks = blocks
        self.bucket_s = bucket_s
        self.slicing = dict(slicing or {})
        self._changes: dict[str, list[Change]] = {}
        self._slice_changes: dict[str, list[Change]] = {}

    def apply(self, records: Iterable[SliRecord], incarnation: str = "") -> int:
        """Add a batch of SLI records; returns how many contributions were skipped because
        their block already holds their source message (redelivery or a re-run after a crash).

        ``incarnation`` names the broker the records were read from. Each touched block is
        written once per batch (one changelog record per hour touched).
        """
        pending: dict[str, Block] = {}

        def current(key: str) -> Block | None:
            block = pending.get(key)
            if block is None:
                block = self.blocks.get(key)
                if block is not None and block.get("i", "") != incarnation:
                    block["a"], block["i"] = {}, incarnation
                    pending[key] = block
            return block

        skipped = 0
        for rec in records:
            fresh: dict[str, dict[int, tuple[int, int]]] = {}
            newest_offset: dict[str, int] = {}
            part = str(rec.src_partition)
            for offset, start, bad, total in rec.counts:
                start = floor_to(start, self.bucket_s)
                key = block_key(rec.slo, floor_to(start, BLOCK_S))
                block = current(key)
                if block is not None and block["a"].get(part, -1) >= offset:
                    skipped += 1
                    continue
                per = fresh.setdefault(key, {})
                old = per.get(start, (0, 0))
                per[start] = (old[0] + bad, old[1] + total)
                newest_offset[key] = max(newest_offset.get(key, -1), offset)
            journal = self._changes.setdefault(rec.slo, [])
            for key, per in fresh.items():
                bstart = int(key.rsplit("|", 1)[1])
                newest = min(rec.newest_ts, bstart + BLOCK_S - 1e-6)
                new = apply_to_block(
                    current(key), per, newest, rec.src_partition, newest_offset[key], incarnation
                )
                assert new is not None  # every contribution in `per` passed the offset check
                pending[key] = new
                journal.extend((start, bad, total) for start, (bad, total) in per.items())
                if rec.slo in self.slicing:
                    self._judge_slices(rec.slo, new, per)
        for key, block in pending.items():
            self.blocks[key] = block
        return skipped

    def _judge_slices(self, slo_id: str, block: Block, touched: Mapping[int, object]) -> None:
        """Re-judge the slices holding the touched buckets; keep bad-slice counts per roll-up
        (``rb``) and per hour (``sb``) as [bad slices, 0] pairs, so ``range`` sums them like
        counts. Slices divide 15 minutes, so each lies inside one roll-up cell."""
        length, target = self.slicing[slo_id]
        a, b = target.numerator, target.denominator
        cells = block.get("c")
        if cells is None:
            return  # compacted: beyond the lateness horizon, nothing can change any more
        verdicts = block.setdefault("sv", {})
        journal = self._slice_changes.setdefault(slo_id, [])
        for sl in {floor_to(start, length) for start in touched}:
            bad = total = 0
            for c in range(sl, sl + length, self.bucket_s):
                cell = cells.get(str(c))
                if cell is not None:
                    bad += cell[0]
                    total += cell[1]
            is_bad = total > 0 and (total - bad) * b < a * total
            if is_bad == (str(sl) in verdicts):
                continue
            delta = 1 if is_bad else -1
            if is_bad:
                verdicts[str(sl)] = 1
            else:
                del verdicts[str(sl)]
            _add(block.setdefault("rb", {}), floor_to(sl, ROLLUP_S), delta, 0)
            block.setdefault("sb", [0, 0])[0] += delta
            journal.append((sl, delta, 0))

    def take_changes(self, slo_id: str, slices: bool = False) -> list[Change]:
        """Contributions applied to an SLO since the last call (the sliding sums' journal);
        with ``slices``, changes of bad-slice counts (slice start, +1/-1, 0)."""
        return (self._slice_changes if slices else self._changes).pop(slo_id, [])

    def range(self, slo_id: str, lo: float, hi: float, res: int, slices: bool = False) -> Counts:
        """Counts of the cells of resolution ``res`` whose start lies in (lo, hi].

        ``res`` is ``bucket_s`` (base cells) or ROLLUP_S. Whole hours inside the range are
        added from their sums, so the cost is hours + edge cells, not cells in the range. With
        ``slices`` (ROLLUP_S only) it counts bad timeslices instead: Counts(bad slices, 0).
        """
        first = (int(lo // res) + 1) * res  # first cell start > lo
        last = int(hi // res) * res  # last cell start <= hi
        if first > last:
            return Counts()
        kind = "rb" if slices else ("c" if res == self.bucket_s else "r")
        full = "sb" if slices else "s"
        blocks = self.blocks
        bad = total = 0
        bstart = first - first % BLOCK_S
        while bstart <= last:
            block = blocks.get(f"{slo_id}|{bstart}")
            if block is not None:
                bend = bstart + BLOCK_S - res  # last cell start in the block
                if bstart >= first and bend <= last:
                    s = block.get(full)
                    if s is not None:  # hours without a bad slice have no "sb"
                        bad += s[0]
                        total += s[1]
                else:
                    cells = block.get(kind)
                    if cells is None:
                        if not slices:  # (an hour without a bad slice has no "rb": zero)
                            raise LookupError(
                                f"{slo_id}: base cells of hour {bstart} were compacted; a window "
                                "reached past the base horizon (bug: compaction cutoff too early)"
                            )
                    else:
                        for c in range(max(first, bstart), min(last, bend) + 1, res):
                            cell = cells.get(str(c))
                            if cell is not None:
                                bad += cell[0]
                                total += cell[1]
            bstart += BLOCK_S
        return Counts(bad, total)

    def window(self, slo_id: str, t: float, window_s: int, res: int | None = None) -> Counts:
        """Counts of the cells whose start lies in (t - window_s, t] (base cells by default)."""
        return self.range(slo_id, t - window_s, t, res or self.bucket_s)

    def newest_event(self, slo_id: str) -> float | None:
        """Newest event time (unix seconds) ever applied to an SLO's stored blocks, or None."""
        stamps = [float(self.blocks[k]["m"]) for k in self.keys_of(slo_id)]
        return max(stamps) if stamps else None

    def hours(self, slo_id: str, lo: float, hi: float) -> list[tuple[int, int, int]]:
        """(hour start, bad, total) of every stored hour starting in (lo - 1h, hi], oldest
        first: hour resolution, for charts (exact window sums come from ``range``)."""
        out = []
        for bstart in range(floor_to(lo, BLOCK_S), floor_to(hi, BLOCK_S) + 1, BLOCK_S):
            block = self.blocks.get(block_key(slo_id, bstart))
            if block is not None:
                out.append((bstart, block["s"][0], block["s"][1]))
        return out

    def keys_of(self, slo_id: str) -> Iterator[str]:
        """Every stored block key of an SLO (scans the mapping)."""
        prefix = f"{slo_id}|"
        return (k for k in list(self.blocks.keys()) if k.startswith(prefix))

    def maintain(self, slo_id: str, compact_before: float, expire_before: float) -> None:
        """Drop base cells of blocks ending by ``compact_before`` and whole blocks ending by
        ``expire_before`` (unix s): no window of the SLO can reach them any more."""
        for key in self.keys_of(slo_id):
            end = int(key.rsplit("|", 1)[1]) + BLOCK_S
            if end <= expire_before:
                del self.blocks[key]
            elif end <= compact_before and "c" in self.blocks[key]:
                block = dict(self.blocks[key])
                del block["c"]
                self.blocks[key] = block
