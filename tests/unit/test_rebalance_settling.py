"""A rebalance is settled only once its table recovery completed: Faust clears ``rebalancing``
before its recovery task sets ``in_recovery``, and a tick in that gap must not read (and
index) the tables recovery is about to fill."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from streams.runtime.agents.evaluator import EvaluationTick
from streams.state.buckets import BucketStore
from streams.state.sli_record import SliRecord
from streams.state.sliding import SlidingSums

HOUR = 1_800_000_000 - 1_800_000_000 % 3600


def wiring(blocks: dict[str, Any]) -> Any:
    app = SimpleNamespace(
        rebalancing=False,
        in_recovery=False,
        rebalancing_count=0,
        tables=SimpleNamespace(recovery=SimpleNamespace(signal_recovery_start=asyncio.Event())),
    )
    buckets = BucketStore(blocks, 10)
    return SimpleNamespace(
        app=app,
        cfg=SimpleNamespace(settings=SimpleNamespace(partitions=4)),
        buckets=buckets,
        evaluator=SimpleNamespace(sums=SlidingSums(buckets), exclusions=()),
    )


def changelog_of_an_hour() -> dict[str, Any]:
    """The blocks a previous worker wrote: 3 bad of 100 in one hour."""
    before: dict[str, Any] = {}
    BucketStore(before, 10).apply([SliRecord("s", [(1, HOUR + 60, 3, 100)], HOUR + 61, "0")])
    return before


def test_the_gap_between_rebalance_and_recovery_is_not_settled() -> None:
    table: dict[str, Any] = {}
    w = wiring(table)
    tick = EvaluationTick(w)
    assert not tick.unsettled()
    assert w.buckets.range("s", HOUR, HOUR + 3599, 10).total == 0  # indexed: nothing yet

    w.app.rebalancing, w.app.rebalancing_count = True, 1  # partitions revoked, then assigned
    assert tick.unsettled()
    w.app.rebalancing = False  # Faust's rebalance ended; its recovery has not started
    assert tick.unsettled()
    w.buckets.range("s", HOUR, HOUR + 3599, 10)  # the HTTP surface may read meanwhile

    w.app.in_recovery = True
    table.update(changelog_of_an_hour())  # recovery writes the table behind the store's back
    w.app.in_recovery = False
    assert tick.unsettled()  # recovery ended, its callbacks not yet called
    asyncio.run(tick.on_recovered())
    assert not tick.unsettled()
    counts = w.buckets.range("s", HOUR, HOUR + 3599, 10)
    assert (counts.bad, counts.total) == (3, 100)


def test_a_recovery_that_completes_while_another_rebalance_is_pending_settles_nothing() -> None:
    w = wiring({})
    tick = EvaluationTick(w)
    w.app.rebalancing_count = 1
    w.app.tables.recovery.signal_recovery_start.set()  # rebalance 1 assigned; recovery pending
    asyncio.run(tick.on_recovered())  # the callback of the recovery rebalance 0 started
    assert tick.unsettled()
    w.app.tables.recovery.signal_recovery_start.clear()
    asyncio.run(tick.on_recovered())
    assert not tick.unsettled()
