"""The review report's facts from a replay: the counts of every period (kept in 15-minute
cells for the whole file, where the evaluator's own store forgets what no window reaches),
the incidents the replay finds, and the time each service's release gate spent in each
decision (the policy engine run on every evaluation's statuses)."""

from __future__ import annotations

from pathlib import Path

from streams.config.model import Config
from streams.core.exclusions import Exclusion
from streams.core.release_gate import decide
from streams.core.review import (
    Period,
    SloReview,
    episodes,
    exclusion_line,
    periods_of,
    time_in_decisions,
)
from streams.core.slo import SLO
from streams.replay.engine import InProcess, run
from streams.replay.rows import Rows
from streams.state.blocks import ROLLUP_S
from streams.state.buckets import BucketStore
from streams.state.history import counts_between


class Reviewing(InProcess):
    """In-process replay that also keeps all counts and each service's decisions."""

    def __init__(self, cfg: Config, now: float) -> None:
        super().__init__(cfg, now)
        self.cells = BucketStore({}, ROLLUP_S)  # never maintained: the whole file
        self.changes: dict[str, list[tuple[float, str]]] = {}  # service -> (t, decision)
        self.first: float | None = None
        self.last: float | None = None

    def _flush(self) -> None:
        self.cells.apply(self.pending.records("0"))
        super()._flush()

    def evaluate(self, t: float) -> list[Rows]:
        out = super().evaluate(t)
        if out:
            self.first = t if self.first is None else self.first
            self.last = t
        for service in {s.service for s in self.cfg.slos}:
            statuses = [
                self.statuses[s.id] for s in self.cfg.slos_of(service) if s.id in self.statuses
            ]
            if statuses:
                decision = decide(service, statuses, t).decision
                seen = self.changes.setdefault(service, [])
                if not seen or seen[-1][1] != decision:
                    seen.append((t, decision))
        return out


def exclusion_lines(exclusions: list[Exclusion], slo: SLO, lo: float, hi: float) -> list[str]:
    """One line per exclusion of the SLO in [lo, hi): what, why, how often and how long."""
    out = []
    for e in exclusions:
        spans = e.spans(lo, hi) if e.applies(slo.service, slo.id) else []
        if spans:
            every = f"{e.rrule}, {e.timezone}" if e.rrule else ""
            out.append(exclusion_line(e.kind, e.comment, spans, every, e.created_by))
    return out


def replay_review(
    path: Path,
    cfg: Config,
    every: int,
    now: float,
    exclusions: list[Exclusion] | None = None,
    span: tuple[float, float] | None = None,
) -> list[SloReview]:
    """Replay ``path`` in process and review every SLO over ``span`` (default: from the first
    evaluation with data to the last)."""
    backend = Reviewing(cfg, now)
    backend.evaluator.exclusions = list(exclusions or [])
    alerts: dict[str, list[tuple[float, str, str, str]]] = {}

    def sink(rows: Rows) -> None:
        for a in rows["alerts"]:
            alerts.setdefault(a["slo"], []).append((a["ts"], a["rule"], a["severity"], a["state"]))

    with open(path, "rb") as f:
        run(f, cfg, backend, every, now, sink)
    if backend.first is None or backend.last is None:
        return []
    lo, hi = span or (backend.first - every, backend.last)
    out = []
    for slo in cfg.slos:
        periods = []
        for a, b in periods_of(slo, lo, hi):
            # cells starting in [a, b): (a - 1, b - 1] on whole-second starts
            c = counts_between(backend.cells, backend.evaluator.exclusions, slo, a - 1, b - 1)
            periods.append(Period(a, b, c.bad, c.total))
        incidents = [i for i in episodes(alerts.get(slo.id, [])) if lo <= i.start < hi]
        changes = backend.changes.get(slo.service, [])
        review = SloReview(slo, lo, hi, periods, incidents, time_in_decisions(changes, lo, hi))
        review.exclusions = exclusion_lines(backend.evaluator.exclusions, slo, lo, hi)
        out.append(review)
    return out
