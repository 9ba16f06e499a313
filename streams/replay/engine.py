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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import orjson

from streams.config.model import Config
from streams.core.alerts import AlertEvent
from streams.core.slo_math import SloStatus, error_ratio
from streams.ingest.aggregate import Aggregate
from streams.ingest.dead_letters import Rejection
from streams.ingest.outcomes import classify, split_message
from streams.ingest.schema import _event_time
from streams.replay.progress import Progress
from streams.state.buckets import BucketStore
from streams.state.evaluation import Evaluator

Rows = dict[str, Any]  # {"alerts": [...], "burn_rates": [...], "budget": {...}} of one SLO at t


def evaluation_rows(st: SloStatus, events: list[AlertEvent]) -> Rows:
    """The output lines of one SLO's evaluation (the replay file formats)."""
    slo, t = st.slo, st.t
    return {
        "alerts": [
            {
                "slo": e.slo,
                "service": e.service,
                "rule": e.rule,
                "severity": e.severity,
                "state": e.state,
                "ts": t,
            }
            for e in events
        ],
        "burn_rates": [
            {
                "ts": t,
                "slo": slo.id,
                "service": slo.service,
                "window_s": w,
                "burn_rate": st.burn(w),
                "error_ratio": error_ratio(c),
                "bad": c.bad,
                "total": c.total,
            }
            for w, c in sorted(st.windows.items())
        ],
        "budget": {
            "ts": t,
            "slo": slo.id,
            "service": slo.service,
            "remaining": st.budget.remaining,
            "consumed": st.budget.consumed,
            "exhausted_since": st.exhausted_since,
        },
    }


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

    def add(self, obj: Any, raw: bytes | None) -> None:
        self.offset += 1  # each outcome is its own source "message" here
        rej = classify(obj, raw, self.cfg, self.now, self.pending, self.watermarks, self.offset)
        if rej is not None:
            self.reasons[rej.reason] += 1

    def reject(self, rejection: Rejection) -> None:
        self.reasons[rejection.reason] += 1

    def _flush(self) -> None:
        self.store.apply(self.pending.records(0))
        self.seen.update(self.pending.counts)
        self.pending = Aggregate()

    def evaluate(self, t: float) -> list[Rows]:
        self._flush()
        out = []
        for slo in self.cfg.slos:
            if slo.id in self.seen:
                st, events = self.evaluator.evaluate(slo, t)
                out.append(evaluation_rows(st, events))
        return out

    def rejected(self) -> dict[str, int]:
        return dict(sorted(self.reasons.items()))


@dataclass
class Incident:
    """One burn episode of an SLO that alerted (times: unix seconds of event time).

    The episode starts at the first evaluation where the SLO's shortest window burns above 1x
    and ends when every rule that fired in it has resolved.
    """

    slo: str
    onset: float
    first_rule: str
    first_severity: str
    detected: float  # first alert
    consumed_before: float  # budget consumed at the evaluation before onset
    consumed_at_detection: float
    fired: Counter[str] = field(default_factory=Counter)  # severity -> alerts fired
    problem_end: float | None = None  # last evaluation still burning above 1x
    resolved: float | None = None  # when the last of its alerts resolved


@dataclass
class _SloTrack:
    onset: float | None = None
    consumed_before_onset: float = 0.0
    last_burning: float | None = None
    consumed: float = 0.0
    firing: set[str] = field(default_factory=set)
    open: Incident | None = None


class IncidentLog:
    """Builds incidents from evaluation rows, in SRE Workbook terms (detection, reset)."""

    def __init__(self) -> None:
        self.incidents: list[Incident] = []
        self.counts: Counter[tuple[str, str]] = Counter()  # (slo, severity) -> alerts fired
        self._track: dict[str, _SloTrack] = {}

    def observe(self, rows: Rows) -> None:
        """Feed one SLO's rows of one evaluation, in time order."""
        budget = rows["budget"]
        slo, t = budget["slo"], budget["ts"]
        tr = self._track.setdefault(slo, _SloTrack())
        if rows["burn_rates"][0]["burn_rate"] > 1:  # the shortest window
            if tr.onset is None:
                tr.onset, tr.consumed_before_onset = t, tr.consumed
            tr.last_burning = t
        elif tr.open is None:
            tr.onset = None
        before, tr.consumed = tr.consumed, budget["consumed"]
        for a in rows["alerts"]:
            if a["state"] == "firing":
                self.counts[(slo, a["severity"])] += 1
                if tr.open is None:
                    onset = tr.onset if tr.onset is not None else t
                    tr.open = Incident(
                        slo,
                        onset,
                        a["rule"],
                        a["severity"],
                        t,
                        tr.consumed_before_onset if tr.onset is not None else before,
                        tr.consumed,
                    )
                    self.incidents.append(tr.open)
                tr.open.fired[a["severity"]] += 1
                tr.firing.add(a["rule"])
            else:
                tr.firing.discard(a["rule"])
                if not tr.firing and tr.open is not None:
                    tr.open.resolved, tr.open.problem_end = t, tr.last_burning
                    tr.open, tr.onset = None, None

    def table(self) -> str:
        """The human summary: one line per incident, then alert counts per SLO."""
        head = (
            f"{'SLO':<26} {'burn onset (UTC)':<16} {'first alert':<20} {'detect':>6} "
            f"{'budget@detect':>13} {'resolve':>7} {'burned':>6} {'reset':>6}  alerts"
        )
        lines = [head]
        for i in self.incidents:
            fired = ", ".join(_n(n, sev) for sev, n in sorted(i.fired.items()))
            burned = _dur(i.problem_end - i.onset) if i.problem_end is not None else "-"
            resolve = _dur(i.resolved - i.detected) if i.resolved is not None else "open"
            reset = (
                _dur(i.resolved - i.problem_end)
                if i.resolved is not None and i.problem_end is not None
                else "open"
            )
            first = f"{i.first_rule} ({i.first_severity})"
            lines.append(
                f"{i.slo:<26} {_utc(i.onset):<16} {first:<20} {_dur(i.detected - i.onset):>6} "
                f"{i.consumed_at_detection - i.consumed_before:>13.1%} {resolve:>7} "
                f"{burned:>6} {reset:>6}  {fired}"
            )
        if not self.incidents:
            lines.append("(no alert fired)")
        for s in sorted({s for s, _ in self.counts}):
            lines.append(
                f"{s}: {_n(self.counts[(s, 'page')], 'page')}, "
                f"{_n(self.counts[(s, 'ticket')], 'ticket')}"
            )
        return "\n".join(lines)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _utc(ts: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts))


def _dur(seconds: float) -> str:
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s"


def _peek_ts(obj: Any, latest_ok: float) -> float | None:
    """The event time an outcome would be accepted with, or None (it will be rejected)."""
    if not isinstance(obj, dict):
        return None
    try:
        ts = _event_time(obj.get("ts"))
    except (ValueError, TypeError):
        return None
    return ts if ts <= latest_ok else None


class Writer:
    """The three output files, written line by line as evaluations come."""

    def __init__(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.files = {
            name: open(out / f"{name}.jsonl", "wb")  # noqa: SIM115
            for name in ("alerts", "burn_rates", "budgets")
        }

    def write(self, rows: Rows) -> None:
        dumps = orjson.dumps
        f = self.files
        for a in rows["alerts"]:
            f["alerts"].write(dumps(a) + b"\n")
        f["burn_rates"].write(b"".join(dumps(r) + b"\n" for r in rows["burn_rates"]))
        f["budgets"].write(dumps(rows["budget"]) + b"\n")

    def close(self) -> None:
        for fh in self.files.values():
            fh.close()


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


def _episodes(logs: list[IncidentLog]) -> list[tuple[str, float, list[Incident | None]]]:
    """Incidents of several policies aligned by overlapping burn episodes of the same SLO."""
    spans: list[tuple[str, float, float, int, Incident]] = []
    for k, log in enumerate(logs):
        for i in log.incidents:
            end = i.resolved if i.resolved is not None else math.inf
            spans.append((i.slo, i.onset, end, k, i))
    spans.sort(key=lambda s: (s[0], s[1]))
    out: list[tuple[str, float, list[Incident | None]]] = []
    cur_end = -math.inf
    for slo, onset, end, k, inc in spans:
        if not out or out[-1][0] != slo or onset > cur_end:
            out.append((slo, onset, [None] * len(logs)))
            cur_end = end
        else:
            cur_end = max(cur_end, end)
        row = out[-1][2]
        if row[k] is None:
            row[k] = inc
    return out


def backtest_table(names: list[str], logs: list[IncidentLog]) -> str:
    """Several policies side by side: per incident detection, budget spent at detection and
    reset time (SRE Workbook terms); then pages and tickets per policy."""
    col = 30
    head = f"{'SLO':<26} {'burn onset (UTC)':<17}" + "".join(
        f"{n[: col - 1]:<{col}}" for n in names
    )
    sub = " " * 44 + "".join(f"{'detect  budget  reset':<{col}}" for _ in names)
    lines = [head, sub]
    for slo, onset, row in _episodes(logs):
        cells = []
        for inc in row:
            if inc is None:
                cells.append(f"{'no alert':<{col}}")
                continue
            reset = (
                _dur(inc.resolved - inc.problem_end)
                if inc.resolved is not None and inc.problem_end is not None
                else "open"
            )
            spent = inc.consumed_at_detection - inc.consumed_before
            cells.append(f"{_dur(inc.detected - inc.onset):>6} {spent:>7.1%} {reset:>6}".ljust(col))
        lines.append(f"{slo:<26} {_utc(onset):<17}" + "".join(cells))
    for severity in ("page", "ticket"):
        counts = [sum(n for (_, sev), n in log.counts.items() if sev == severity) for log in logs]
        lines.append(f"{severity + 's':<44}" + "".join(f"{c:<{col}}" for c in counts))
    return "\n".join(line.rstrip() for line in lines)
