"""Bucket store: exact window sums against a brute-force reference, and replay-safe updates."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.slo_math import Counts
from streams.kafka.topics import partition_for_slo
from streams.state.blocks import (
    BLOCK_S,
    DAY_S,
    ROLLUP_S,
    block_key,
    day_key,
    decode_block,
    encode_block,
    owner_of_key,
)
from streams.state.buckets import BucketStore
from streams.state.sli_record import SliRecord

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
        records.append(SliRecord(SLO, [(i, start, bad, bad + good)], start + 1, "0"))
    for i in range(0, len(records), batch):
        store.apply(records[i : i + batch])
    t = BASE + t_off + t_frac
    assert store.window(SLO, t, window) == brute(cells, t, window)


def test_redelivered_record_is_not_counted_twice() -> None:
    store = BucketStore({}, 10)
    rec = SliRecord(SLO, [(41, BASE, 1, 10), (41, BASE + BLOCK_S, 2, 20)], BASE + BLOCK_S, "3")
    assert store.apply([rec]) == 0
    assert store.apply([rec]) == 2  # both contributions of message 41 already held
    assert store.window(SLO, BASE + 2 * BLOCK_S, 3 * BLOCK_S) == Counts(3, 30)


def test_a_batch_re_run_with_other_boundaries_counts_every_message_once() -> None:
    # Ingest aggregated messages 1..10 into one record, crashed before committing its offsets,
    # and after the restart cut the re-read stream differently: 6..15 in one record.
    store = BucketStore({}, 10)
    first = SliRecord(SLO, [(o, BASE + o * 10, 1, 2) for o in range(1, 11)], BASE + 100, "0")
    rerun = SliRecord(SLO, [(o, BASE + o * 10, 1, 2) for o in range(6, 16)], BASE + 150, "0")
    store.apply([first])
    assert store.apply([rerun]) == 5  # messages 6..10 skipped, 11..15 applied
    assert store.window(SLO, BASE + 3600, 3600) == Counts(15, 30)


def test_dedup_is_per_source_partition_and_per_block() -> None:
    store = BucketStore({}, 10)
    store.apply([SliRecord(SLO, [(5, BASE, 1, 1)], BASE, "0")])
    # Same offset, other partition: a different source message, applied.
    store.apply([SliRecord(SLO, [(5, BASE, 1, 1)], BASE, "1")])
    # A message spanning an applied block and a fresh one: only the fresh block takes it
    # (a crash between the two block writes left exactly this state).
    store.blocks[block_key(SLO, BASE)]["a"]["2"] = 9
    store.apply([SliRecord(SLO, [(9, BASE, 1, 1), (9, BASE + BLOCK_S, 1, 1)], BASE + BLOCK_S, "2")])
    assert store.window(SLO, BASE + BLOCK_S, 2 * BLOCK_S) == Counts(3, 3)


def test_offsets_of_a_replaced_broker_do_not_hide_the_new_brokers_messages() -> None:
    # A memory broker restarted empty: its offsets begin at 0 again under a new cluster id.
    store = BucketStore({}, 10)
    old = SliRecord(SLO, [(o, BASE + 10 + o, 0, 1) for o in range(100)], BASE + 109, "0")
    assert store.apply([old], "broker-a") == 0
    new = SliRecord(SLO, [(o, BASE + 200 + o, 1, 1) for o in range(10)], BASE + 209, "0")
    assert store.apply([new], "broker-a") == 10  # same incarnation: taken for a redelivery
    assert store.apply([new], "broker-b") == 0  # new incarnation: old marks dropped
    assert store.apply([new], "broker-b") == 10  # and its own redeliveries still skipped
    assert store.window(SLO, BASE + BLOCK_S, BLOCK_S) == Counts(10, 110)


def test_a_batch_writes_each_block_once() -> None:
    writes: list[str] = []

    class Recording(dict[str, dict]):
        def __setitem__(self, k: str, v: dict) -> None:
            writes.append(k)
            super().__setitem__(k, v)

    store = BucketStore(Recording(), 10)
    store.apply([SliRecord(SLO, [(i, BASE + i * 10, 0, 1)], BASE, "0") for i in range(100)])
    assert sorted(writes) == [block_key(SLO, BASE)]


def test_maintain_moves_old_hours_into_their_day_keeping_rollups_and_expires_older() -> None:
    day = BASE - BASE % DAY_S
    store = BucketStore({}, 10)
    for h in range(5):
        store.apply([SliRecord(SLO, [(h, day + h * BLOCK_S + 910, 1, 2)], day, "0")])
    store.maintain(SLO, compact_before=day + 4 * BLOCK_S, expire_before=day + BLOCK_S)
    # Hour 0 expired, hours 1-3 moved into the day block, hour 4 keeps its base cells.
    assert sorted(store.keys_of(SLO)) == [block_key(SLO, day + 4 * BLOCK_S), day_key(SLO, day)]
    # Roll-up sums still answer over moved hours; base cells there are an error, not a 0.
    end = day + 5 * BLOCK_S
    assert store.range(SLO, day - 1, end, ROLLUP_S) == Counts(4, 8)
    assert store.range(SLO, day + 3 * BLOCK_S + 899, end, ROLLUP_S) == Counts(2, 4)
    assert store.hours(SLO, day, end) == [(day + h * BLOCK_S, 1, 2) for h in range(1, 5)]
    with pytest.raises(LookupError):
        store.range(SLO, day + 3 * BLOCK_S + 899, end, 10)
    assert store.range(SLO, day + 4 * BLOCK_S, end, 10) == Counts(1, 2)
    # The day expires as a whole once its end is out of reach.
    store.maintain(SLO, compact_before=day + 4 * BLOCK_S, expire_before=day + DAY_S - 1)
    assert sorted(store.keys_of(SLO)) == [day_key(SLO, day)]
    store.maintain(SLO, compact_before=day + 4 * BLOCK_S, expire_before=day + DAY_S)
    assert list(store.keys_of(SLO)) == []


def test_a_moved_hour_still_skips_redeliveries_and_takes_late_counts() -> None:
    day = BASE - BASE % DAY_S
    store = BucketStore({}, 10)
    first = SliRecord(SLO, [(7, day + 100, 1, 5)], day + 100, "0")
    store.apply([first])
    store.maintain(SLO, compact_before=day + 2 * BLOCK_S, expire_before=0)
    assert store.apply([first]) == 1  # redelivered after the move: the day's marks know it
    store.apply([SliRecord(SLO, [(8, day + 200, 2, 2)], day + 200, "0")])  # a backlog message
    assert sorted(store.keys_of(SLO)) == [day_key(SLO, day)]  # no hour block comes back
    assert store.range(SLO, day - 1, day + BLOCK_S, ROLLUP_S) == Counts(3, 7)
    assert store.newest_event(SLO) == day + 200


def test_blocks_survive_their_changelog_encoding() -> None:
    store = BucketStore({}, 10, {SLO: (60, Fraction("0.9"))})
    store.apply([SliRecord(SLO, [(1, BASE, 3, 4), (2, BASE + 70, 0, 9)], BASE + 75, "0")])
    store.maintain(SLO, compact_before=BASE - BASE % BLOCK_S, expire_before=0)
    for key, block in store.blocks.items():
        again = decode_block(encode_block(block))
        assert again == block and type(again["c"]) is type(block["c"]), key


def test_newest_event_survives_in_the_blocks() -> None:
    store = BucketStore({}, 10)
    assert store.newest_event(SLO) is None
    store.apply([SliRecord(SLO, [(1, BASE, 0, 1), (1, BASE + 20, 0, 1)], BASE + 27.5, "0")])
    assert store.newest_event(SLO) == BASE + 27.5


def test_table_keys_are_partitioned_by_their_first_field() -> None:
    assert owner_of_key(block_key("svc:success_rate", BASE)) == "svc:success_rate"
    assert owner_of_key("svc:success_rate|page_1h_5m") == "svc:success_rate"


def test_every_slo_of_a_service_lives_on_the_services_partition() -> None:
    # The release gate weighs all SLOs of a service: with several workers they must be on one.
    for n in (1, 4, 8, 64):
        p = partition_for_slo("checkout-api", n)
        assert partition_for_slo("checkout-api:success_rate", n) == p
        assert partition_for_slo("checkout-api:latency", n) == p
    assert len({partition_for_slo(f"svc-{i}:latency", 8) for i in range(40)}) == 8


@settings(max_examples=60, deadline=None)
@given(
    ops=st.lists(
        st.tuples(st.sampled_from(["a:latency", "a:latency2", "b"]), st.integers(0, 80)),
        max_size=40,
    ),
    cut=st.integers(0, 80),
)
def test_the_key_index_answers_as_a_scan_would(ops: list[tuple[str, int]], cut: int) -> None:
    # keys_of keeps an index (a scan per SLO made 10,000 SLOs' maintenance quadratic): after
    # applies, maintenance, and a mapping changed behind its back plus reindex, it must
    # name exactly the keys a scan finds.
    day = BASE - BASE % DAY_S
    blocks: dict[str, dict] = {}
    store = BucketStore(blocks, 10)
    ids = ["a:latency", "a:latency2", "b"]

    def scan(slo_id: str) -> list[str]:
        return sorted(k for k in blocks if k.rsplit("|", 1)[0] == slo_id)

    assert store.keys_of("b") == []  # builds the index before anything is stored
    for i, (slo_id, hour) in enumerate(ops):
        store.apply([SliRecord(slo_id, [(i, day + hour * BLOCK_S, 0, 1)], day, "0")])
    for slo_id in ids:
        store.maintain(slo_id, compact_before=day + cut * BLOCK_S, expire_before=day + DAY_S)
        assert sorted(store.keys_of(slo_id)) == scan(slo_id)
    blocks[block_key("b", day + 99 * BLOCK_S)] = dict(blocks.get(block_key("b", day), {}))
    store.reindex()
    assert all(sorted(store.keys_of(s)) == scan(s) for s in ids)


def test_a_cell_past_2_31_requests_widens_its_hour_and_survives_the_changelog() -> None:
    # Base cells are 4 bytes while they fit (they are most of an SLO's memory); one 10-s cell
    # of a huge service must not overflow them.
    store = BucketStore({}, 10)
    big = 2**31 + 5
    store.apply([SliRecord(SLO, [(1, BASE, 3, 10)], BASE, "0")])
    store.apply([SliRecord(SLO, [(2, BASE, 1, big)], BASE, "0")])
    assert store.range(SLO, BASE - 1, BASE, 10) == Counts(4, big + 10)
    key = block_key(SLO, BASE - BASE % BLOCK_S)
    again = decode_block(encode_block(store.blocks[key]))
    assert again["c"].typecode == "q" and sum(again["c"]) == big + 14
    small = BucketStore({}, 10)
    small.apply([SliRecord(SLO, [(1, BASE, 0, 1)], BASE, "0")])
    assert decode_block(encode_block(small.blocks[key]))["c"].typecode == "i"
