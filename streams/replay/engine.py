"""Deterministic event-time replay: a JSONL file of outcomes -> alert timeline, burn rates,
budgets and an incident summary.

The driver reads the file in order and evaluates every ``every`` seconds of event time: the
evaluation for time t runs after every event with ts <= t and before any later one. What counts
and how is the worker's own code (``outcomes.classify``, ``BucketStore``, ``Evaluator``), run
in-process by ``InProcess`` or by a real worker through the broker
(``streams.local.replay_via_broker``); both hand back the same rows, so both write
byte-identical files.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from streams.config.model import Config
from streams.core.slo_math import SloStatus
from streams.ingest.aggregate import Aggregate
from streams.ingest.dead_letters import Rejection
from streams.ingest.outcomes import classify, split_message
from streams.ingest.schema import _event_time
from streams.replay.incidents import IncidentLog
from streams.replay.progress import Progress
from streams.replay.rows import Rows, Writer, evaluation_rows
from streams.state.buckets import BucketStore
from streams.state.evaluation import Evaluator


class Backend(Protocol):
    """Where outcomes are counted and evaluated: in this process or by a worker."""

    def add(self, obj: Any, raw: bytes | None) -> None:
        """One outcome (decoded JSON) with its own bytes (None: an element of an array)."""

    def reject(self, rejection: Rejection) -> None:
        """A message that could not even be split into outcomes."""

    def evaluate(self, t: float) -> list[Rows]:
        """Count everything added so far, then evaluate every SLO with data at t."""

    def rejected(self) -> dict[str, int]:
        """Rejected outcomes by reason so far."""


class InProcess:
    """The worker's counting and evaluation code, on dicts instead of Faust tables."""

    def __init__(self, cfg: Config, now: float) -> None:
        self.cfg, self.now = cfg, now
        self.store = BucketStore({}, cfg.settings.bucket_seconds, cfg.slicing)
        self.evaluator = Evaluator(self.store, {}, cfg.settings.allowed_lateness_seconds)
        self.watermarks: dict[str, float] = {}
        self.pending = Aggregate()
        self.offset = 0
        self.seen: set[str] = set()
        self.reasons: Counter[str] = Counter()
        self.statuses: dict[str, SloStatus] = {}  # each SLO's latest, for the release gate

    def add(self, obj: Any, raw: bytes | None) -> None:
        self.offset += 1  # each outcome is its own source "message" here
        rej = classify(obj, raw, self.cfg, self.now, self.pending, self.watermarks, self.offset)
        if rej is not None:
            self.reasons[rej.reason] += 1

    def reject(self, rejection: Rejection) -> None:
        self.reasons[rejection.reason] += 1

    def _flush(self) -> None:
        self.store.apply(self.pending.records("0"))
        self.seen.update(self.pending.counts)
        self.pending = Aggregate()

    def evaluate(self, t: float) -> list[Rows]:
        self._flush()
        out = []
        for slo in self.cfg.slos:
            if slo.id in self.seen:
                st, events = self.evaluator.evaluate(slo, t)
                self.statuses[slo.id] = st
                out.append(evaluation_rows(st, events))
        return out

    def rejected(self) -> dict[str, int]:
        return dict(sorted(self.reasons.items()))


def _peek_ts(obj: Any, latest_ok: float) -> float | None:
    """The event time an outcome would be accepted with, or None (it will be rejected)."""
    if not isinstance(obj, dict):
        return None
    try:
        ts = _event_time(obj.get("ts"))
    except (ValueError, TypeError):
        return None
    return ts if ts <= latest_ok else None


def _lines(stream: BinaryIO, progress: Progress | None) -> Iterator[bytes]:
    done = 0
    for line in stream:
        done += len(line)
        if progress is not None and done % 65536 < len(line):
            progress.update(done)
        yield line


def run(
    lines: Iterable[bytes],
    cfg: Config,
    backend: Backend,
    every: int,
    now: float,
    sink: Any,
) -> int:
    """Drive ``backend`` over the lines, passing each SLO's rows at each evaluation to
    ``sink(rows)``; returns the number of evaluation times.

    Evaluation times are the multiples of ``every`` from the first event on. A gap longer than
    any SLO's reach is skipped (nothing could be in any window there).
    """
    latest_ok = now + cfg.settings.max_future_seconds
    reach = max(s.retention_s for s in cfg.slos) + cfg.settings.allowed_lateness_seconds
    next_t: float | None = None
    evaluations = 0

    def evaluate(t: float) -> None:
        nonlocal evaluations
        evaluations += 1
        for rows in backend.evaluate(t):
            sink(rows)

    for line in lines:
        line = line.strip()
        if not line:
            continue
        items = split_message(line, cfg.settings.max_message_bytes)
        if isinstance(items, Rejection):
            backend.reject(items)
            continue
        for obj, raw in items:
            ts = _peek_ts(obj, latest_ok)
            if ts is not None:
                if next_t is None:
                    next_t = math.ceil(ts / every) * every
                if ts - next_t > reach:
                    evaluate(next_t)
                    next_t = math.ceil((ts - reach) / every) * every
                while ts > next_t:
                    evaluate(next_t)
                    next_t += every
            backend.add(obj, raw)
    if next_t is not None:
        evaluate(next_t)
    return evaluations


def replay_file(
    path: Path,
    cfg: Config,
    out: Path,
    every: int,
    backend: Backend,
    now: float,
    show_progress: bool = True,
) -> str:
    """Replay ``path`` into ``out``; returns the human summary."""
    log = IncidentLog()
    writer = Writer(out)

    def sink(rows: Rows) -> None:
        writer.write(rows)
        log.observe(rows)

    progress = Progress(f"replay {path.name}", path.stat().st_size) if show_progress else None
    try:
        with open(path, "rb") as f:
            evaluations = run(_lines(f, progress), cfg, backend, every, now, sink)
    finally:
        writer.close()
    if progress is not None:
        progress.done()
    rejected = backend.rejected()
    tail = (
        f"rejected outcomes: {sum(rejected.values())} "
        f"({', '.join(f'{k}={v}' for k, v in rejected.items())})"
        if rejected
        else "rejected outcomes: 0"
    )
    return f"{log.table()}\n{evaluations} evaluations every {every}s of event time; {tail}"


def replay_incidents(path: Path, cfg: Config, every: int, now: float) -> IncidentLog:
    """Replay in-process keeping only the incident log (no files)."""
    log = IncidentLog()
    with open(path, "rb") as f:
        run(f, cfg, InProcess(cfg, now), every, now, log.observe)
    return log
