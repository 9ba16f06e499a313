"""The SLO model the engine runs on, whatever file shape it came from: objectives, their
alert rules (the SRE Workbook set by default) and the windows they need."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from statistics import NormalDist
from typing import Literal

from streams.core.enforcement import Enforcement
from streams.core.periods import Calendar, period_bounds

SliType = Literal["success_rate", "latency"]
JOURNEY: Literal["journey"] = (
    "journey"  # the sli_type of a composite SLO (journeys.<name> in a service map)
)
Severity = Literal["page", "ticket"]
# OpenTelemetry span kinds an SLO can count (SpanKind numbers in OTLP: SERVER 2, CONSUMER 5).
SpanKind = Literal["server", "consumer"]

# The SRE Workbook multi-window, multi-burn-rate set: (name, long window s, short window s,
# burn threshold, severity).
WORKBOOK_RULES: tuple[tuple[str, int, int, float, Severity], ...] = (
    ("page_1h_5m", 3600, 300, 14.4, "page"),
    ("page_6h_30m", 6 * 3600, 1800, 6.0, "page"),
    ("ticket_1d_2h", 86400, 7200, 3.0, "ticket"),
    ("ticket_3d_6h", 3 * 86400, 6 * 3600, 1.0, "ticket"),
)

# Windows whose burn rates project budget exhaustion (seconds): 1h and 6h.
EXHAUSTION_WINDOWS_S = (3600, 6 * 3600)
# Windows up to this long sum 10-s base cells; longer ones (the Workbook's 3d) 15-minute
# roll-ups. The Workbook's page windows (5m-6h) and its 1d ticket window stay exact to the
# bucket: the 1d window's edge moving in 15-minute cells made its burn rate off by up to 93 %
# of itself when errors clustered near the edge.
BASE_WINDOW_MAX_S = 86400

# A seed-style rule names only one window; without an explicit severity, burns at or above this
# page (the Workbook pages at 14.4 and 6, and tickets at 3 and 1).
PAGE_BURN_FLOOR = 6.0


@dataclass(frozen=True)
class AlertRule:
    """One multi-window burn-rate rule; windows in seconds, ``burn`` in budget-rate multiples."""

    name: str
    severity: Severity
    long_window_s: int
    short_window_s: int
    burn: Fraction
    resolve_after_s: int = 0
    # "no_data": fires when its window holds no event at all (burn and thresholds unused).
    kind: Literal["burn", "no_data"] = "burn"

    @cached_property
    def burn_parts(self) -> tuple[int, int]:
        """(a, b) with burn == a / b: exact integer comparisons in the hot path."""
        return self.burn.numerator, self.burn.denominator


@dataclass(frozen=True)
class SLO:
    """One objective of one service; ``target`` is a ratio in (0, 1), kept exact as a Fraction."""

    id: str
    service: str
    sli_type: SliType | Literal["journey"]
    target: Fraction
    window_days: int | None  # rolling SLO window; None when ``calendar`` is set
    alerts: tuple[AlertRule, ...]
    success_codes: frozenset[int] | None = None  # None: every status below 500 is a success
    latency_threshold_ms: float | None = None
    source: str = ""
    calendar: Calendar | None = None  # calendar SLO window (month, week) in ``timezone``
    timezone: str = "UTC"
    # Timeslices budgeting (OpenSLO): a slice of timeslice_s seconds is good when its good ratio
    # is at least timeslice_target; the budget counts bad slices. None: occurrences.
    timeslice_s: int | None = None
    timeslice_target: Fraction | None = None
    enforcement: Enforcement = field(default_factory=Enforcement)
    policy_version: str = "default"  # the policy document's version, for audit
    # Low-traffic guard: a burn-rate alert needs this many bad events in its long window, and,
    # with a confidence, the lower confidence bound of the long window's error ratio (Wilson)
    # to exceed the threshold rather than the point estimate.
    min_bad_events: int = 0
    burn_confidence: float | None = None
    # A journey (composite SLO): (member SLO id, integer weight). Each outcome counted for a
    # member counts here too, times its weight; empty for a plain SLO.
    members: tuple[tuple[str, int], ...] = ()
    # Which requests of the service count: None, all; else only those whose operation is one
    # of these (an outcome's ``route``; a span's name, ``http.route`` or "METHOD route").
    operations: frozenset[str] | None = None
    span_kinds: frozenset[SpanKind] = frozenset({"server"})  # OTLP spans that are requests

    @cached_property
    def budget_parts(self) -> tuple[int, int]:
        """(p, q) with 1 - target == p / q: the error budget ratio as exact integers."""
        ratio = 1 - self.target
        return ratio.numerator, ratio.denominator

    @cached_property
    def burn_z(self) -> float | None:
        """The one-sided normal quantile of ``burn_confidence`` (None: point estimates)."""
        if self.burn_confidence is None:
            return None
        return NormalDist().inv_cdf(self.burn_confidence)

    def covers(self, names: tuple[str, ...]) -> bool:
        """Whether a request known by these operation names counts for this SLO."""
        ops = self.operations
        return ops is None or any(n in ops for n in names)

    def is_success(self, status_code: int) -> bool:
        """Whether a response status counts as good for this SLO's SLI."""
        if self.success_codes is None:
            return status_code < 500
        return status_code in self.success_codes

    @cached_property
    def windows_s(self) -> tuple[int, ...]:
        """Every distinct window this SLO evaluates (alert windows, and 1h and 6h for budget
        exhaustion projections), seconds, ascending."""
        alert = {w for r in self.alerts for w in (r.long_window_s, r.short_window_s)}
        return tuple(sorted(alert | set(EXHAUSTION_WINDOWS_S)))

    @cached_property
    def base_horizon_s(self) -> int:
        """How far back base-resolution cells are needed: the longest window of at most
        BASE_WINDOW_MAX_S. Longer windows add 15-minute roll-ups, whose edge moves in 15-minute
        steps (0.35 % of 3 days): an SLO keeps at most a day and an hour of 10-s cells."""
        return max((w for w in self.windows_s if w <= BASE_WINDOW_MAX_S), default=0)

    @cached_property
    def retention_s(self) -> int:
        """How far back any window of this SLO reaches (a calendar month: up to 31 days)."""
        if self.calendar is not None:
            return (31 if self.calendar == "month" else 7) * 86400 + 3600
        assert self.window_days is not None
        return max(self.window_days * 86400, *self.windows_s)

    def budget_window(self, t: float) -> tuple[float, int]:
        """The SLO window at t: its start (unix s) and length (s). Rolling windows end at t;
        a calendar period starts at local midnight and may differ in length (months, DST)."""
        if self.calendar is not None:
            start, end = period_bounds(t, self.calendar, self.timezone)
            return start, end - start
        assert self.window_days is not None
        return t - self.window_days * 86400, self.window_days * 86400

    @property
    def window_label(self) -> str:
        """The SLO window as people say it: '30d', 'calendar month (Europe/Berlin)'."""
        if self.calendar is not None:
            return f"calendar {self.calendar} ({self.timezone})"
        return f"{self.window_days}d"


def workbook_rules() -> tuple[AlertRule, ...]:
    """The default alert set when a service names none."""
    return tuple(
        AlertRule(name, sev, long_s, short_s, Fraction(str(burn)))
        for name, long_s, short_s, burn, sev in WORKBOOK_RULES
    )
