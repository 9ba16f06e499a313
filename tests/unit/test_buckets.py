"""Bucket store: exact window sums against a brute-force reference, and replay-safe updates."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.buckets import BLOCK_S, ROLLUP_S, BucketStore, block_key, owner_of_key
from streams.models import SliRecord
from streams.slo_math import Counts

SLO = "svc:success_rate"
BASE = 1_800_000_000


def brute(cells: dict[int, tuple[int, int]], t: float, w: int) -> Counts:
    bad = sum(b for s, (b, _) in cells.items() if t - w < s <= t)
    total = sum(n for s, (_, n) in cells.items() if t - w < s <= t)
    return Counts(bad, total)


@settings(max_examples=200, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(0, 3 * 86400 // 10), st.integers(0, 50), st.integers(0, 50)),
        max_size=300,
    ),
    t_off=st.integers(0, 3 * 86400),
    t_frac=st.sampled_from([0.0, 0.5, 9.999]),
    window=st.sampled_from([10, 300, 1800, 3600, 7200, 21600, 86400, 3 * 86400, 30 * 86400]),
    batch=st.integers(1, 7),
)
def test_window_sums_equal_brute_force_over_buckets(
    data: list[tuple[int, int, int]], t_off: int, t_frac: float, window: int, batch: int
) -> None:
    store = BucketStore({}, 10)
    cells: dict[int, tuple[int, int]] = {}
    records = []
    for i, (slot, bad, good) in enumerate(data):
        start = BASE + slot * 10
        old = cells.get(start, (0, 0))
        cells[start] = (old[0] + bad, old[1] + bad + good)
        records.append(SliRecord(SLO, [(start, bad, bad + good)], start + 1, 0, i))
    for i in range(0, len(records), batch):
        store.apply(records[i : i + batch])
    t = BASE + t_off + t_frac
    assert store.window(SLO, t, window) == brute(cells, t, window)


def test_redelivered_record_is_not_counted_twice() -> None:
    store = BucketStore({}, 10)
    rec = SliRecord(SLO, [(BASE, 1, 10), (BASE + BLOCK_S, 2, 20)], BASE + BLOCK_S, 3, 41)
    assert store.apply([rec]) == 0
    assert store.apply([rec]) == 1  # skipped: offset 41 of partition 3 already applied
    assert store.window(SLO, BASE + 2 * BLOCK_S, 3 * BLOCK_S) == Counts(3, 30)


def test_dedup_is_per_source_partition_and_per_block() -> None:
    store = BucketStore({}, 10)
    store.apply([SliRecord(SLO, [(BASE, 1, 1)], BASE, 0, 5)])
    # Same offset, other partition: a different source message, applied.
    store.apply([SliRecord(SLO, [(BASE, 1, 1)], BASE, 1, 5)])
    # A record spanning an applied block and a fresh one: only the fresh block takes it
    # (a crash between the two block writes left exactly this state).
    store.blocks[block_key(SLO, BASE)]["a"]["2"] = 9
    store.apply([SliRecord(SLO, [(BASE, 1, 1), (BASE + BLOCK_S, 1, 1)], BASE + BLOCK_S, 2, 9)])
    assert store.window(SLO, BASE + BLOCK_S, 2 * BLOCK_S) == Counts(3, 3)


def test_a_batch_writes_each_block_once() -> None:
    writes: list[str] = []

    class Recording(dict[str, dict]):
        def __setitem__(self, k: str, v: dict) -> None:
            writes.append(k)
            super().__setitem__(k, v)

    store = BucketStore(Recording(), 10)
    store.apply([SliRecord(SLO, [(BASE + i * 10, 0, 1)], BASE, 0, i) for i in range(100)])
    assert sorted(writes) == [block_key(SLO, BASE)]


def test_maintain_expires_old_blocks_and_compacts_base_cells_keeping_rollups() -> None:
    store = BucketStore({}, 10)
    for h in range(5):
        store.apply([SliRecord(SLO, [(BASE + h * BLOCK_S + 910, 1, 2)], BASE, 0, h)])
    store.maintain(SLO, compact_before=BASE + 4 * BLOCK_S, expire_before=BASE + 2 * BLOCK_S + 5)
    assert sorted(store.keys_of(SLO)) == [block_key(SLO, BASE + h * BLOCK_S) for h in (2, 3, 4)]
    assert "c" not in store.blocks[block_key(SLO, BASE + 3 * BLOCK_S)]
    assert "c" in store.blocks[block_key(SLO, BASE + 4 * BLOCK_S)]
    # Roll-up sums still answer over compacted hours; base cells there are an error, not a 0.
    end = BASE + 5 * BLOCK_S
    assert store.range(SLO, BASE + 3 * BLOCK_S + 899, end, ROLLUP_S) == Counts(2, 4)
    with pytest.raises(LookupError):
        store.range(SLO, BASE + 3 * BLOCK_S + 899, end, 10)


def test_newest_event_survives_in_the_blocks() -> None:
    store = BucketStore({}, 10)
    assert store.newest_event(SLO) is None
    store.apply([SliRecord(SLO, [(BASE, 0, 1), (BASE + 20, 0, 1)], BASE + 27.5, 0, 1)])
    assert store.newest_event(SLO) == BASE + 27.5


def test_table_keys_are_partitioned_by_their_first_field() -> None:
    assert owner_of_key(block_key("svc:success_rate", BASE)) == "svc:success_rate"
    assert owner_of_key("svc:success_rate|page_1h_5m") == "svc:success_rate"
