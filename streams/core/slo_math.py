"""Error-budget and burn-rate math: pure functions, no I/O, no clock.

Every number a user sees comes from here. Alert decisions compare exact rationals (targets and
burn thresholds are Fractions of the decimal the user wrote), so a rule pinned to fire "at 6x"
fires at exactly the bucket the arithmetic says, never one early through float rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction

from streams.core.slo import EXHAUSTION_WINDOWS_S, SLO, AlertRule


class Counts:
    """Bad and total events over some span (counts, not ratios).

    Treated as immutable. A slotted class rather than a dataclass: an evaluation creates
    millions of them, and this is several times cheaper to build.
    """

    __slots__ = ("bad", "total")

    def __init__(self, bad: int = 0, total: int = 0) -> None:
        self.bad = bad
        self.total = total

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.bad + other.bad, self.total + other.total)

    def __sub__(self, other: Counts) -> Counts:
        return Counts(self.bad - other.bad, self.total - other.total)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Counts) and self.bad == other.bad and self.total == other.total

    def __hash__(self) -> int:
        return hash((self.bad, self.total))

    def __repr__(self) -> str:
        return f"Counts(bad={self.bad}, total={self.total})"


def error_ratio(c: Counts) -> float:
    """bad / total as a ratio 0..1; 0 when there is no traffic (see ``no_data``)."""
    return c.bad / c.total if c.total else 0.0


def _burn(c: Counts, p: int, q: int) -> float:
    # bad / total / (p / q) as one integer division, which Python rounds correctly: the float
    # nearest the exact rational.
    return (c.bad * q) / (c.total * p) if c.total else 0.0


def _exceeds(c: Counts, p: int, q: int, a: int, b: int) -> bool:
    # bad/total/(p/q) > a/b  <=>  bad * q * b > a * p * total, in integers.
    return c.total > 0 and c.bad * q * b > a * p * c.total


def wilson_lower(bad: int, total: int, z: float) -> float:
    """Lower bound of the true error ratio given ``bad`` of ``total`` (Wilson score interval,
    one-sided at the normal quantile z). Few events give a wide interval: one failure in ten
    requests is a 10 % point estimate but, at 95 %, only ~2.3 % for sure."""
    if total == 0:
        return 0.0
    ratio = bad / total
    z2 = z * z
    centre = ratio + z2 / (2 * total)
    margin = z * math.sqrt(ratio * (1 - ratio) / total + z2 / (4 * total * total))
    return max(0.0, (centre - margin) / (1 + z2 / total))


def burn_rate(c: Counts, target: Fraction) -> float:
    """How many times faster than sustainable the budget burns; 1.0 spends it exactly in time.

    The float nearest the exact rational bad / total / (1 - target).
    """
    ratio = 1 - target
    return _burn(c, ratio.numerator, ratio.denominator)


def burn_exceeds(c: Counts, target: Fraction, threshold: Fraction) -> bool:
    """Exactly whether burn_rate(c) > threshold; False without traffic."""
    ratio = 1 - target
    return _exceeds(
        c, ratio.numerator, ratio.denominator, threshold.numerator, threshold.denominator
    )


@dataclass(frozen=True)
class Budget:
    """Error budget over the SLO window; ratios of the whole budget (1.0 = all of it)."""

    consumed: float
    remaining: float  # true value: negative once overspent; clamp only for display


def budget(c: Counts, target: Fraction) -> Budget:
    """Budget consumed is bad / ((1-T) * total); an empty window has consumed nothing."""
    ratio = 1 - target
    return _budget(c, ratio.numerator, ratio.denominator)


def _budget(c: Counts, p: int, q: int) -> Budget:
    if not c.total:
        return Budget(consumed=0.0, remaining=1.0)
    consumed = (c.bad * q) / (c.total * p)
    return Budget(consumed=consumed, remaining=1.0 - consumed)


def burn_down(
    hours: list[tuple[int, int, int]], target: Fraction, window_total: int
) -> list[tuple[int, float]]:
    """Remaining budget (ratio) at the end of each hour of the SLO window, spending the whole
    window's budget ((1 - target) * window_total events) from the window's start: a curve from
    1 down to the window's remaining budget. ``hours`` are (start unix s, bad, total)."""
    if not window_total:
        return [(start + 3600, 1.0) for start, _, _ in hours]
    p, q = (1 - target).numerator, (1 - target).denominator
    spent, out = 0, []
    for start, bad, _ in hours:
        spent += bad
        out.append((start + 3600, 1.0 - (spent * q) / (window_total * p)))
    return out


def recent_burn_down(
    bad_per_hour: list[int], target: Fraction, window_total: int, remaining: float
) -> list[float]:
    """Remaining budget (ratio) before each of the last hours and now, oldest first: the
    burn-down walked back from the exact ``remaining`` by each hour's bad events (``bad_per_hour``
    oldest first), so its last point is the SLO's own number. For a sparkline."""
    if not window_total:
        return [remaining] * (len(bad_per_hour) + 1)
    p, q = (1 - target).numerator, (1 - target).denominator
    out = [remaining]
    for bad in reversed(bad_per_hour):
        out.append(out[-1] + (bad * q) / (window_total * p))
    return out[::-1]


def time_to_exhaustion(remaining: float, burn: float, slo_window_s: int) -> float | None:
    """Seconds until the budget is gone if the burn rate holds; 0 if already gone.

    At burn rate b the budget drains at b / slo_window_s of the whole per second. None means
    never (no burn).
    """
    if remaining <= 0:
        return 0.0
    if burn <= 0:
        return None
    return remaining * slo_window_s / burn


def next_exhausted_since(prev: float | None, remaining: float, t: float) -> float | None:
    """Event time the remaining budget last went below 0, or None while it is not below 0."""
    if remaining >= 0:
        return None
    return prev if prev is not None else t


@dataclass(frozen=True)
class AlertState:
    """Where one rule of one SLO stands; times are event-time unix seconds."""

    firing: bool = False
    since: float | None = None  # when it started firing
    cleared_at: float | None = None  # when the condition went false while still firing


def step_alert(prev: AlertState, condition: bool, t: float, resolve_after_s: int) -> AlertState:
    """Next state of a rule at evaluation time t (seconds).

    A rule fires as soon as its condition holds and resolves at the first evaluation where it
    no longer does, unless ``resolve_after_s`` holds it firing that long after the condition
    cleared (a condition that comes back meanwhile cancels the pending resolve).
    """
    if condition:
        if prev.firing:
            return replace(prev, cleared_at=None) if prev.cleared_at is not None else prev
        return AlertState(firing=True, since=t)
    if not prev.firing:
        return prev
    cleared_at = prev.cleared_at if prev.cleared_at is not None else t
    if t - cleared_at >= resolve_after_s:
        return AlertState()
    return replace(prev, cleared_at=cleared_at)


@dataclass(frozen=True)
class RuleStatus:
    """One rule at one evaluation: its burn rates and whether it fires."""

    rule: AlertRule
    long_burn: float
    short_burn: float
    condition: bool
    state: AlertState


@dataclass(frozen=True)
class SloStatus:
    """Everything computed for one SLO at one evaluation time t (unix seconds)."""

    slo: SLO
    t: float
    windows: Mapping[int, Counts]  # alert window seconds -> counts
    slo_window: Counts
    budget: Budget
    rules: tuple[RuleStatus, ...]
    exhausted_since: float | None = None  # event time (unix s) remaining last went below 0
    time_to_exhaustion_s: Mapping[int, float | None] = field(default_factory=dict)

    @property
    def no_data(self) -> bool:
        """No event at all in the SLO window: burn rates read 0 and nothing can fire."""
        return self.slo_window.total == 0

    def burn(self, window_s: int) -> float:
        """Burn rate over one of the evaluated windows."""
        return _burn(self.windows[window_s], *self.slo.budget_parts)


def evaluate_slo(
    slo: SLO,
    t: float,
    window_counts: Callable[[int], Counts],
    budget_counts: Counts,
    budget_window_s: int,
    prev: Mapping[str, AlertState],
    prev_exhausted_since: float | None = None,
) -> SloStatus:
    """Evaluate every window and rule of an SLO at time t (unix seconds).

    ``window_counts(w)`` returns the counts of buckets whose start lies in (t - w, t];
    ``budget_counts`` are those of the SLO window, ``budget_window_s`` its length in seconds.
    ``prev`` maps rule name to its previous state (missing = not firing). Budget exhaustion is
    projected at the 1h and 6h burn rates.
    """
    windows = {w: window_counts(w) for w in slo.windows_s}
    p, q = slo.budget_parts
    rules = []
    for rule in slo.alerts:
        long_c, short_c = windows[rule.long_window_s], windows[rule.short_window_s]
        a, b_ = rule.burn_parts
        if rule.kind == "no_data":
            cond = long_c.total == 0
        else:
            cond = (
                long_c.bad >= slo.min_bad_events
                and _exceeds(long_c, p, q, a, b_)
                and _exceeds(short_c, p, q, a, b_)
                and (
                    slo.burn_z is None
                    or wilson_lower(long_c.bad, long_c.total, slo.burn_z) * q > rule.burn * p
                )
            )
        state = step_alert(prev.get(rule.name, AlertState()), cond, t, rule.resolve_after_s)
        rules.append(
            RuleStatus(
                rule=rule,
                long_burn=_burn(long_c, p, q),
                short_burn=_burn(short_c, p, q),
                condition=cond,
                state=state,
            )
        )
    b = _budget(budget_counts, p, q)
    return SloStatus(
        slo=slo,
        t=t,
        windows=windows,
        slo_window=budget_counts,
        budget=b,
        rules=tuple(rules),
        exhausted_since=next_exhausted_since(prev_exhausted_since, b.remaining, t),
        time_to_exhaustion_s={
            w: time_to_exhaustion(b.remaining, _burn(windows[w], p, q), budget_window_s)
            for w in EXHAUSTION_WINDOWS_S
        },
    )


def transitions(prev: Mapping[str, AlertState], status: SloStatus) -> list[tuple[RuleStatus, str]]:
    """Rules whose firing state changed at this evaluation, with 'firing' or 'resolved'."""
    out = []
    for rs in status.rules:
        was = prev.get(rs.rule.name, AlertState()).firing
        if rs.state.firing != was:
            out.append((rs, "firing" if rs.state.firing else "resolved"))
    return out
