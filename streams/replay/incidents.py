"""Incidents found by a replay: per SLO, when pages and tickets fired and resolved, summed up
as a table; and several alert policies' incidents side by side (``sloburn backtest``)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from streams.replay.rows import Rows


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
