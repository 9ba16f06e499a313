"""Event-time buckets per SLO: exact range sums at two resolutions, replay-safe updates.

State lives in a ``MutableMapping[str, dict]`` so the worker can hand in a changelog-backed Faust
table and ``replay``/tests a plain dict: one code path for both. Its values are the hour and
day blocks of streams.state.blocks.

Every applied contribution is also journaled per SLO (``take_changes``), which lets sliding
window sums move incrementally between evaluations and stay exact when late events land inside
a window.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, MutableMapping
from fractions import Fraction

from streams.core.slo_math import Counts
from streams.state.blocks import (
    BLOCK_S,
    DAY_S,
    ROLLUP_S,
    Block,
    Change,
    add_counts,
    block_key,
    day_key,
    floor_to,
    hour_bit,
    move_hour,
    new_day,
    new_hour,
    pairs,
    sum_pairs,
)
from streams.state.sli_record import SliRecord


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
        # SLO id -> its block keys; scanning every key per SLO made ten thousand SLOs'
        # hourly maintenance quadratic (32 s of CPU). None: built again at the next use.
        self._keys: dict[str, set[str]] | None = None

    def _target(self, slo_id: str, hour_start: int) -> tuple[str, int]:
        """Key and start of the block holding an hour: its day block once it was moved there."""
        dkey = day_key(slo_id, floor_to(hour_start, DAY_S))
        day = self.blocks.get(dkey)
        if day is not None and day["k"] & hour_bit(hour_start):
            return dkey, floor_to(hour_start, DAY_S)
        return block_key(slo_id, hour_start), hour_start

    def apply(self, records: Iterable[SliRecord], incarnation: str = "") -> int:
        """Add a batch of SLI records; returns how many contributions were skipped because
        their block already holds their source message (redelivery or a re-run after a crash).

        ``incarnation`` names the broker the records were read from. Each touched block is
        written once per batch (one changelog record per block touched).
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
        targets: dict[tuple[str, int], tuple[str, int]] = {}
        for rec in records:
            fresh: dict[tuple[str, int], dict[int, tuple[int, int]]] = {}
            newest_offset: dict[str, int] = {}
            part = rec.source
            for offset, start, bad, total in rec.counts:
                start = floor_to(start, self.bucket_s)
                hour = (rec.slo, floor_to(start, BLOCK_S))
                target = targets.get(hour)
                if target is None:
                    target = targets[hour] = self._target(*hour)
                key = target[0]
                block = current(key)
                if block is not None and block["a"].get(part, -1) >= offset:
                    skipped += 1
                    continue
                per = fresh.setdefault(target, {})
                old = per.get(start, (0, 0))
                per[start] = (old[0] + bad, old[1] + total)
                newest_offset[key] = max(newest_offset.get(key, -1), offset)
            journal = self._changes.setdefault(rec.slo, [])
            for (key, bstart), per in fresh.items():
                block = current(key)
                if block is None:
                    block = new_hour(self.bucket_s, incarnation)
                add_counts(block, bstart, self.bucket_s, per)
                span = BLOCK_S if "c" in block else DAY_S
                block["m"] = max(block["m"], min(rec.newest_ts, bstart + span - 1e-6))
                block["a"][part] = newest_offset[key]
                pending[key] = block
                journal.extend((start, bad, total) for start, (bad, total) in per.items())
                if rec.slo in self.slicing and "c" in block:
                    self._judge_slices(rec.slo, block, bstart, per)
        for key, block in pending.items():
            self._store(key, block)
        return skipped

    def _judge_slices(
        self, slo_id: str, block: Block, block_start: int, touched: Mapping[int, object]
    ) -> None:
        """Re-judge the slices holding the touched buckets; keep bad-slice counts per roll-up
        (``rb``) and per hour (``sb``) as [bad slices, 0] pairs, so ``range`` sums them like
        counts. Slices divide 15 minutes, so each lies inside one roll-up cell. A day block
        is beyond the lateness horizon: nothing there can change any more."""
        length, target = self.slicing[slo_id]
        a, b = target.numerator, target.denominator
        cells = block["c"]
        verdicts = block.setdefault("sv", {})
        journal = self._slice_changes.setdefault(slo_id, [])
        per_slice = length // self.bucket_s
        for sl in {floor_to(start, length) for start in touched}:
            i = (sl - block_start) // self.bucket_s
            bad, total = sum_pairs(cells, i, i + per_slice - 1)
            is_bad = total > 0 and (total - bad) * b < a * total
            if is_bad == (str(sl) in verdicts):
                continue
            delta = 1 if is_bad else -1
            if is_bad:
                verdicts[str(sl)] = 1
            else:
                del verdicts[str(sl)]
            if "rb" not in block:
                block["rb"] = pairs(BLOCK_S // ROLLUP_S)
            block["rb"][2 * ((sl - block_start) // ROLLUP_S)] += delta
            block.setdefault("sb", [0, 0])[0] += delta
            journal.append((sl, delta, 0))

    def changed(self, slo_id: str) -> bool:
        """Whether contributions landed in an SLO since its journal was last taken."""
        return bool(self._changes.get(slo_id) or self._slice_changes.get(slo_id))

    def take_changes(self, slo_id: str, slices: bool = False) -> list[Change]:
        """Contributions applied to an SLO since the last call (the sliding sums' journal);
        with ``slices``, changes of bad-slice counts (slice start, +1/-1, 0)."""
        return (self._slice_changes if slices else self._changes).pop(slo_id, [])

    def range(self, slo_id: str, lo: float, hi: float, res: int, slices: bool = False) -> Counts:
        """Counts of the cells of resolution ``res`` whose start lies in (lo, hi].

        ``res`` is ``bucket_s`` (base cells) or ROLLUP_S. Whole recent hours are added from
        their sums, so the cost is hours + edge cells, not cells in the range. With ``slices``
        (ROLLUP_S only) it counts bad timeslices instead: Counts(bad slices, 0).
        """
        first = (int(lo // res) + 1) * res  # first cell start > lo
        last = int(hi // res) * res  # last cell start <= hi
        if first > last:
            return Counts()
        kind = "rb" if slices else ("c" if res == self.bucket_s else "r")
        full = "sb" if slices else "s"
        blocks = self.blocks
        # Asked before the mapping: a Faust table's miss costs a raised KeyError, and a
        # quiet SLO's windows cross mostly hours it has no block for (profiled with 10,000
        # SLOs: a quarter of the worker's CPU went to table misses).
        stored = self._index().get(slo_id) or set()
        bad = total = 0
        day: Block | None = None
        day_start = -1
        bstart = first - first % BLOCK_S
        while bstart <= last:
            lo_c, hi_c = max(first, bstart), min(last, bstart + BLOCK_S - res)
            key = f"{slo_id}|{bstart}"
            block = blocks[key] if key in stored else None
            if block is not None:
                s = block.get(full) if lo_c == bstart and hi_c == bstart + BLOCK_S - res else None
                if s is not None:
                    bad += s[0]
                    total += s[1]
                elif kind in block:
                    b, n = sum_pairs(block[kind], (lo_c - bstart) // res, (hi_c - bstart) // res)
                    bad += b
                    total += n
            else:
                if bstart - bstart % DAY_S != day_start:
                    day_start = bstart - bstart % DAY_S
                    dkey = f"{slo_id}|d{day_start}"
                    day = blocks[dkey] if dkey in stored else None
                if day is not None and day["k"] & hour_bit(bstart):
                    if res == self.bucket_s:
                        raise LookupError(
                            f"{slo_id}: base cells of hour {bstart} were compacted; a window "
                            "reached past the base horizon (bug: compaction cutoff too early)"
                        )
                    cells = day.get(kind)
                    if cells is not None:  # (a day without a bad slice has no "rb": zero)
                        b, n = sum_pairs(
                            cells, (lo_c - day_start) // res, (hi_c - day_start) // res
                        )
                        bad += b
                        total += n
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
        stored = self._index().get(slo_id) or set()  # a table miss costs a KeyError: see range
        for bstart in range(floor_to(lo, BLOCK_S), floor_to(hi, BLOCK_S) + 1, BLOCK_S):
            key = block_key(slo_id, bstart)
            if key in stored:
                block = self.blocks[key]
                out.append((bstart, block["s"][0], block["s"][1]))
                continue
            dkey = day_key(slo_id, floor_to(bstart, DAY_S))
            day = self.blocks[dkey] if dkey in stored else None
            if day is not None and day["k"] & hour_bit(bstart):
                i = bstart % DAY_S // ROLLUP_S
                out.append((bstart, *sum_pairs(day["r"], i, i + BLOCK_S // ROLLUP_S - 1)))
        return out

    def first_cell(self, slo_id: str, lo: float, hi: float, res: int) -> int | None:
        """Start of the first cell with events whose start lies in (lo, hi], at ``res`` (base
        cells where kept; where an hour was compacted, its roll-up cell: never later than the
        base cell it holds), or None."""
        best: int | None = None
        for key in self.keys_of(slo_id):
            field = key.rsplit("|", 1)[1]
            day = field.startswith("d")
            bstart = int(field[1:]) if day else int(field)
            if bstart + (DAY_S if day else BLOCK_S) <= lo or bstart > hi:
                continue
            if best is not None and bstart >= best:
                continue
            block = self.blocks[key]
            if not day and not block["s"][1]:
                continue  # an hour without events
            base = res == self.bucket_s and "c" in block
            cells, step = (block["c"], self.bucket_s) if base else (block["r"], ROLLUP_S)
            i = max(0, math.floor((lo - bstart) / step) + 1)
            last = min(len(cells) // 2 - 1, math.floor((hi - bstart) / step))
            while i <= last and (best is None or bstart + i * step < best):
                if cells[2 * i + 1]:
                    best = bstart + i * step
                    break
                i += 1
        return best

    def keys_of(self, slo_id: str) -> list[str]:
        """Every stored block key of an SLO."""
        return list(self._index().get(slo_id, ()))

    def _index(self) -> dict[str, set[str]]:
        if self._keys is None:
            index: dict[str, set[str]] = {}
            for key in list(self.blocks.keys()):
                index.setdefault(key.rsplit("|", 1)[0], set()).add(key)
            self._keys = index
        return self._keys

    def reindex(self) -> None:
        """Rebuild the key index at its next use: the mapping changed behind the store's
        back (a table recovery after a rebalance)."""
        self._keys = None

    def _store(self, key: str, block: Block) -> None:
        self.blocks[key] = block
        if self._keys is not None:
            self._keys.setdefault(key.rsplit("|", 1)[0], set()).add(key)

    def _drop(self, key: str) -> None:
        del self.blocks[key]
        if self._keys is not None:
            self._keys.get(key.rsplit("|", 1)[0], set()).discard(key)

    def maintain(self, slo_id: str, compact_before: float, expire_before: float) -> None:
        """Move hours ending by ``compact_before`` into their day block (base cells dropped)
        and drop blocks ending by ``expire_before`` (unix s): no window of the SLO can reach
        what goes. Each day block touched is written once."""
        days: dict[str, Block] = {}
        for key in self.keys_of(slo_id):
            field = key.rsplit("|", 1)[1]
            if field.startswith("d"):
                if int(field[1:]) + DAY_S <= expire_before:
                    self._drop(key)
                continue
            bstart = int(field)
            end = bstart + BLOCK_S
            if end <= expire_before:
                self._drop(key)
            elif end <= compact_before:
                dkey = day_key(slo_id, floor_to(bstart, DAY_S))
                hour = self.blocks[key]
                day = days.get(dkey) or self.blocks.get(dkey) or new_day(hour.get("i", ""))
                move_hour(hour, bstart, day)
                days[dkey] = day
                self._drop(key)
        for dkey, day in days.items():
            self._store(dkey, day)
