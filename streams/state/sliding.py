"""Window sums kept between evaluations and moved by what entered, left or changed.

Recomputing every window from the store at every tick costs hours + edge cells per window; a
replay evaluates ~130,000 times per SLO-month. Between two evaluations a window only gains the
cells that entered (hi_prev, hi], loses those that left (lo_prev, lo], and takes the store's
journal of changes that landed inside the old range (late events) — exact, and a few lookups.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from streams.core.slo_math import Counts
from streams.state.blocks import Change, floor_to
from streams.state.buckets import BucketStore

RangeCounts = Callable[..., Counts]  # (name, lo, hi, res, slices=False) -> Counts


@dataclass(frozen=True)
class _Entry:
    generation: int
    lo: float
    hi: float
    res: int
    counts: Counts


class SlidingSums:
    """Per-SLO, per-window sums over a BucketStore, updated incrementally when possible."""

    def __init__(self, store: BucketStore) -> None:
        self.store = store
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._generation: dict[str, int] = {}

    def reset(self) -> None:
        """Forget every cached sum (after a rebalance replaced table state wholesale)."""
        self._entries.clear()
        self._generation.clear()

    def evaluation(self, slo_id: str) -> RangeCounts:
        """Start one evaluation of an SLO; returns ``counts(name, lo, hi, res[, slices])``.

        Every window of the SLO must be asked once per evaluation: the journal of changes is
        consumed here, and a window skipped once is recomputed from the store next time.
        """
        changes = {
            False: self.store.take_changes(slo_id),
            True: self.store.take_changes(slo_id, slices=True),
        }
        gen = self._generation.get(slo_id, 0) + 1
        self._generation[slo_id] = gen
        memo: dict[tuple[float, float, int, bool], Counts] = {}

        def span(lo: float, hi: float, res: int, slices: bool) -> Counts:
            # Every window gains the same cells (t_prev, t]: count them once per evaluation.
            key = (lo, hi, res, slices)
            c = memo.get(key)
            if c is None:
                c = memo[key] = self.store.range(slo_id, lo, hi, res, slices)
            return c

        def counts(name: str, lo: float, hi: float, res: int, slices: bool = False) -> Counts:
            key = (slo_id, name)
            e = self._entries.get(key)
            if (
                e is None
                or e.generation != gen - 1
                or e.res != res
                or lo < e.lo
                or hi < e.hi
                or lo >= e.hi
            ):
                c = span(lo, hi, res, slices)
            else:
                # Most ticks move no edge across a cell and bring no change: skip empty spans.
                c = e.counts
                if changes[slices]:
                    c = c + _changed_within(changes[slices], e.lo, e.hi, res)
                if hi // res != e.hi // res:
                    c = c + span(e.hi, hi, res, slices)
                if lo // res != e.lo // res:
                    c = c - span(e.lo, lo, res, slices)
            self._entries[key] = _Entry(gen, lo, hi, res, c)
            return c

        return counts


def _changed_within(changes: list[Change], lo: float, hi: float, res: int) -> Counts:
    bad = total = 0
    for start, b, n in changes:
        if lo < floor_to(start, res) <= hi:
            bad += b
            total += n
    return Counts(bad, total)
