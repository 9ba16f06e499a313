"""Two workers in one group split the partitions; after `kill -9` of one, the other owns every
SLO, with state recovered from the changelog, and every budget is exact."""

from __future__ import annotations

import asyncio
import io
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from fractions import Fraction

import orjson
import pytest

from streams.kafka.sender import send_lines
from streams.local.embedded_broker import EmbeddedBroker
from tests.e2e.conftest import Worker, services_config, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.brokers("embedded", "kafka")]

SERVICES = [f"svc-{i:02d}" for i in range(12)]


def expected() -> dict[str, tuple[int, int]]:
    """(bad, total) per service: service i gets 100 + 10 i requests, i of them failed."""
    return {s: (i, 100 + 10 * i) for i, s in enumerate(SERVICES)}


def health(w: Worker) -> dict:
    try:
        with urllib.request.urlopen(w.web + "/healthz", timeout=3) as r:
            return orjson.loads(r.read())
    except urllib.error.HTTPError as e:
        return orjson.loads(e.read())


def evaluated(w: Worker) -> dict[str, dict]:
    """The SLOs this worker owns and has evaluated: service -> budget."""
    return {s["service"]: s["budget"] for s in w.get("/v1/slos")["slos"] if "budget" in s}


def test_two_workers_split_the_work_and_one_takes_over_exactly_after_kill_9(
    broker: EmbeddedBroker, worker: Callable[..., Worker]
) -> None:
    config = services_config(SERVICES)
    a = worker(config)
    b = worker(config)
    wait_for(
        lambda: all(health(w)["status"] == "ok" for w in (a, b)),
        90,
        "both workers to be ready after the rebalance",
    )
    now = time.time()
    lines = [
        orjson.dumps(
            {"service": s, "ts": now - 60 + k * 0.1, "status_code": 500 if k < bad else 200}
        )
        for s, (bad, total) in expected().items()
        for k in range(total)
    ]
    asyncio.run(send_lines(broker.bootstrap, io.BytesIO(b"\n".join(lines)), 4))

    def split_done() -> bool:
        on_a, on_b = evaluated(a), evaluated(b)
        both = {**on_a, **on_b}
        return len(both) == len(SERVICES) and all(
            (both[s]["bad"], both[s]["total"]) == expected()[s] for s in SERVICES
        )

    wait_for(split_done, 60, "every SLO evaluated by one of the two workers")
    on_a, on_b = set(evaluated(a)), set(evaluated(b))
    assert on_a and on_b, "both workers must own some SLOs"
    assert not on_a & on_b, "an SLO must be evaluated by one worker only"
    moved = sorted(on_a)

    a.kill9()
    wait_for(lambda: set(evaluated(b)) == set(SERVICES), 90, "the survivor to own every SLO")
    budgets = evaluated(b)
    for s, (bad, total) in expected().items():
        assert (budgets[s]["bad"], budgets[s]["total"]) == (bad, total), s
        consumed = Fraction(bad, total) / (1 - Fraction(999, 1000))
        assert budgets[s]["consumed"] == pytest.approx(float(consumed), rel=1e-12), s
    gate = b.get(f"/v1/gate/{moved[0]}")
    assert gate["service"] == moved[0] and gate["decision"]
