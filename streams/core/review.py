"""The SLO review: per SLO and period, what was achieved and what it cost, and the seed's
review rule ("SLO miss rate < 1 % annually: re-evaluate the target") as a recommendation
with the numbers behind it. Pure: the report's sources (a replay, a worker's API) gather the
counts, alerts and decisions; this module judges them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from streams.core.periods import period_bounds
from streams.core.slo import SLO
from streams.core.timestamps import minute_utc

DAY_S = 86400


@dataclass(frozen=True)
class ReviewRule:
    """When a year of an SLO says its target is wrong. ``span_s``: how much history the rule
    needs before it judges (a year by default: the seed's "annually"). An SLO is *lenient*
    when no period spent ``lenient_below`` of its budget or more; it *misses chronically*
    when at least ``chronic_at`` of its periods overspent it."""

    span_s: int = 365 * DAY_S
    lenient_below: float = 0.25
    chronic_at: float = 0.25


@dataclass(frozen=True)
class Period:
    """One SLO window's worth of the report range: [start, end) and its counts."""

    start: float
    end: float
    bad: int
    total: int

    def achieved(self) -> float | None:
        """The SLI over the period (good / all), None without traffic."""
        return 1 - self.bad / self.total if self.total else None

    def spent(self, slo: SLO) -> float:
        """Share of the period's budget its bad events used (1.0 = all of it: a miss)."""
        allowed = (1 - float(slo.target)) * self.total
        return self.bad / allowed if allowed else 0.0


@dataclass(frozen=True)
class Incident:
    """An alerting burn episode: first alert to the last resolve (None: still firing)."""

    start: float
    end: float | None
    first_rule: str
    pages: int
    tickets: int


def exclusion_line(
    kind: str, comment: str, spans: list[tuple[float, float]], every: str = "", by: str = ""
) -> str:
    """One line of the report for an exclusion that covered ``spans`` (unix s) of a period,
    whichever source the report was made from: what, why, how often, how long, and who."""
    hours = sum(b - a for a, b in spans) / 3600
    recurring = f" ({every})" if every else ""
    who = f", by {by}" if by else ""
    times = "once" if len(spans) == 1 else f"{len(spans)} times"
    return (
        f'{kind} "{comment}"{recurring}: {times} from {minute_utc(spans[0][0])}, '
        f"{hours:.1f} h in all{who}"
    )


def override_line(at: float, kind: str, who: str, why: str) -> str:
    """One line of the report for a gate override or its revocation."""
    return f"{minute_utc(at)} {kind.replace('_', ' ')} by {who}: {why}".rstrip(": ")


@dataclass
class SloReview:
    """Everything the report says about one SLO over [start, end)."""

    slo: SLO
    start: float
    end: float
    periods: list[Period]
    incidents: list[Incident] = field(default_factory=list)
    decision_s: dict[str, float] = field(default_factory=dict)  # gate decision -> seconds
    overrides: list[str] = field(default_factory=list)  # one line each: when, who, why
    exclusions: list[str] = field(default_factory=list)  # one line each: when, what, why

    @property
    def pages(self) -> int:
        return sum(i.pages for i in self.incidents)

    @property
    def tickets(self) -> int:
        return sum(i.tickets for i in self.incidents)

    def totals(self) -> Period:
        """The whole range as one period."""
        bad = sum(p.bad for p in self.periods)
        return Period(self.start, self.end, bad, sum(p.total for p in self.periods))

    def recommendation(self, rule: ReviewRule) -> tuple[str | None, str]:
        """(flag, the numbers behind it): "lenient", "chronic" or None (keep the target)."""
        return recommend(self.slo, self.periods, self.end - self.start, rule)


def episodes(alerts: Iterable[tuple[float, str, str, str]]) -> list[Incident]:
    """Incidents from alert transitions (time, rule, severity, "firing"|"resolved") in time
    order: one opens at a firing while nothing fires and ends when every rule resolved."""
    out: list[Incident] = []
    firing: set[str] = set()
    start, first, counts = 0.0, "", {"page": 0, "ticket": 0}
    for at, rule, severity, state in alerts:
        if state == "firing":
            if not firing:
                start, first, counts = at, rule, {"page": 0, "ticket": 0}
            firing.add(rule)
            counts[severity] = counts.get(severity, 0) + 1
        elif rule in firing:
            firing.discard(rule)
            if not firing:
                out.append(Incident(start, at, first, counts["page"], counts["ticket"]))
    if firing:
        out.append(Incident(start, None, first, counts["page"], counts["ticket"]))
    return out


def periods_of(slo: SLO, lo: float, hi: float) -> list[tuple[float, float]]:
    """[start, end) of each SLO window in [lo, hi): calendar periods as the calendar has
    them (the first and last cut at lo and hi), rolling windows back to back from lo."""
    out = []
    t = lo
    while t < hi:
        if slo.calendar is not None:
            end = float(period_bounds(t, slo.calendar, slo.timezone)[1])
        else:
            assert slo.window_days is not None
            end = t + slo.window_days * DAY_S
        out.append((t, min(end, hi)))
        t = end
    return out


def recommend(
    slo: SLO, periods: list[Period], span_s: float, rule: ReviewRule
) -> tuple[str | None, str]:
    """The review rule over the periods with traffic; the second item says why, in numbers."""
    seen = [p for p in periods if p.total]
    if not seen:
        return None, "no traffic in the range"
    spent = [p.spent(slo) for p in seen]
    missed = sum(s > 1 for s in spent)
    facts = (
        f"{missed} of {len(seen)} periods over budget; at most {max(spent):.1%} of a period's "
        f"budget spent; SLI {min_achieved(seen):.4%} at worst against {float(slo.target):.3%}"
    )
    if span_s < rule.span_s:
        need = f"{span_s / DAY_S:.0f} of the {rule.span_s / DAY_S:.0f} days the rule needs"
        return None, f"{facts}; {need}"
    if missed / len(seen) >= rule.chronic_at:
        return "chronic", f"{facts}: target may be too strict or reliability work is due"
    if max(spent) < rule.lenient_below:
        return "lenient", f"{facts}: target may be too lenient or the service over-engineered"
    return None, facts


def min_achieved(periods: Iterable[Period]) -> float:
    """The worst SLI among periods with traffic."""
    return min(a for p in periods if (a := p.achieved()) is not None)


def time_in_decisions(
    changes: list[tuple[float, str]], lo: float, hi: float, before: str | None = None
) -> dict[str, float]:
    """Seconds in each decision over [lo, hi), from its changes (time, new decision) in time
    order; ``before`` is the decision in force at lo, if known (unknown time is not counted)."""
    out: dict[str, float] = {}
    current, since = before, lo
    for at, decision in changes:
        if at >= hi:
            break
        if at > since and current is not None:
            out[current] = out.get(current, 0.0) + at - since
        current, since = decision, max(at, lo)
    if current is not None and hi > since:
        out[current] = out.get(current, 0.0) + hi - since
    return out
