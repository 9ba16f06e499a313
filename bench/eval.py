"""In-process figures: CPU time of one evaluation tick over many SLOs, and the memory an SLO's
buckets hold after 30 days at 10-s buckets (which must not grow with traffic)."""

from __future__ import annotations

import gc
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from streams.config.loading import load_config
from streams.config.model import Config
from streams.core.schedule import Due
from streams.core.slo_math import SloStatus
from streams.local.traffic import fleet_config
from streams.state.buckets import BucketStore
from streams.state.evaluation import Evaluator
from streams.state.quiet import hold, repeated
from streams.state.sli_record import SliRecord

T0 = 1_790_812_800  # 2026-10-01T00:00:00Z
BUCKET_S = 10


def fleet(n: int) -> Config:
    """``n`` services, one 99.9 % success-rate SLO each, with the Workbook's four rules."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fleet.yaml"
        path.write_text(fleet_config(f"svc-{i:04d}" for i in range(n)))
        return load_config([path], env={})


def fill(store: BucketStore, slo_ids: list[str], start: int, end: int, per_bucket: int) -> None:
    """One contribution per SLO per bucket in [start, end), ``per_bucket`` requests each."""
    offset = 0
    for hour in range(start, end, 3600):
        records = []
        for slo_id in slo_ids:
            counts = [
                (offset + k, b, 1 if k % 50 == 0 else 0, per_bucket)
                for k, b in enumerate(range(hour, min(hour + 3600, end), BUCKET_S))
            ]
            records.append(SliRecord(slo_id, counts, counts[-1][1] + BUCKET_S - 1, "0"))
        offset += 3600 // BUCKET_S
        store.apply(records)


def ticking(
    cfg: Config, ev: Evaluator, live: list[str], now: float, ticks: int, due: Due | None = None
) -> tuple[float, list[float]]:
    """CPU seconds of the first evaluation tick over every SLO at ``now``, and of ``ticks``
    more, one a second, a new bucket of traffic for the ``live`` SLOs every 10 of them. With
    ``due``, a tick evaluates only the SLOs it says are due and not held quiet, as the worker
    does (streams.state.quiet)."""

    last: dict[str, SloStatus] = {}

    def tick(t: float) -> float:
        started = time.process_time()
        for slo in cfg.slos:
            changed = ev.store.changed(slo.id)
            if due is None:
                ev.evaluate(slo, t)
            elif due.due(slo.id, t, changed):
                same = repeated(due, slo.id, t, changed, last.get(slo.id))
                if same is None:
                    same, _ = ev.evaluate(slo, t)
                    if not changed:
                        hold(due, ev.store, same, 300)
                last[slo.id] = same
        return time.process_time() - started

    cold = tick(now)
    steady = []
    for i in range(1, ticks + 1):
        if i % BUCKET_S == 0:
            ev.store.apply(
                [SliRecord(s, [(10**6 + i, now + i - BUCKET_S, 0, 60)], now + i, "0") for s in live]
            )
        steady.append(tick(now + i))
    return cold, steady


def bench_tick(n_slos: int = 1000, history_h: int = 6, ticks: int = 30) -> dict[str, Any]:
    """CPU seconds of one evaluation tick over ``n_slos`` SLOs (7 alert windows + budget)."""
    cfg = fleet(n_slos)
    ids = [s.id for s in cfg.slos]
    store = BucketStore({}, BUCKET_S)
    now = T0 + history_h * 3600
    fill(store, ids, T0, now, 60)
    ev = Evaluator(store, {}, 300)
    windows = len(cfg.slos[0].windows_s)

    cold, steady = ticking(cfg, ev, ids, now, ticks)
    return {
        "slos": n_slos,
        "alert_windows_per_slo": windows,
        "first_tick_cpu_ms": round(cold * 1000, 1),
        "tick_cpu_ms_p50": round(statistics.median(steady) * 1000, 1),
        "tick_cpu_ms_max": round(max(steady) * 1000, 1),
        "target_tick_cpu_ms": "<= 100",
    }


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def bench_fleet(n_slos: int = 10_000, live_every: int = 10, ticks: int = 60) -> dict[str, Any]:
    """One evaluation tick and the memory of ``n_slos`` SLOs: one in ``live_every`` with a day
    of traffic and new buckets while ticking, the rest an hour of history and then quiet."""
    cfg = fleet(n_slos)
    ids = [s.id for s in cfg.slos]
    live = ids[::live_every]
    idle = [i for i in ids if i not in set(live)]
    rss_before = _rss_kib()
    store = BucketStore({}, BUCKET_S)
    now = T0 + 86400
    fill(store, live, T0, now, 60)
    fill(store, idle, now - 3600, now, 60)
    ev = Evaluator(store, {}, 300)

    cold, every = ticking(cfg, ev, live, now, ticks)
    _, due = ticking(cfg, ev, live, now + ticks, ticks, Due(BUCKET_S))
    return {
        "slos": n_slos,
        "live_slos": len(live),
        "first_tick_cpu_s": round(cold, 2),
        "tick_cpu_s_p50_every_slo": round(statistics.median(every), 3),
        "tick_cpu_s_max_every_slo": round(max(every), 3),
        "tick_cpu_s_p50": round(statistics.median(due), 3),
        "tick_cpu_s_max": round(max(due), 3),
        "store_rss_mib": round((_rss_kib() - rss_before) / 1024, 1),
        "target": "tick <= 1 s CPU, worker RSS <= 3 GiB",
    }


def bench_memory(n_slos: int = 10, days: int = 30) -> dict[str, Any]:
    """Bytes the bucket store holds per SLO after ``days`` at 10-s buckets, at two traffic
    levels 100x apart, evaluated (and so compacted) hourly as the worker does."""
    cfg = fleet(n_slos)
    out: dict[str, Any] = {"slos": n_slos, "days": days}
    for per_bucket in (10, 1000):
        gc.collect()
        tracemalloc.start()
        store = BucketStore({}, BUCKET_S)
        ev = Evaluator(store, {}, 300)
        ids = [s.id for s in cfg.slos]
        for day in range(days):
            for hour in range(24):
                start = T0 + day * 86400 + hour * 3600
                fill(store, ids, start, start + 3600, per_bucket)
                for slo in cfg.slos:
                    ev.evaluate(slo, start + 3599)
        gc.collect()
        held, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out[f"kib_per_slo_at_{per_bucket}_per_bucket"] = round(held / n_slos / 1024, 1)
        del store, ev
    out["target_kib_per_slo"] = "<= 256, flat in traffic"
    return out
