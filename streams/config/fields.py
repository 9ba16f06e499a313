"""What both file formats share: targets, SLO windows and budgeting, alert rules, and how a
rule written in minutes becomes windows of whole buckets."""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, model_validator

from streams.core.alerts import NO_DATA_RULE
from streams.core.enforcement import StrictModel
from streams.core.periods import Calendar
from streams.core.slo import PAGE_BURN_FLOOR, AlertRule, Severity, SpanKind, workbook_rules


def _check_target(v: float) -> float:
    if not 0 < v < 1:
        raise ValueError("must be between 0 and 1 (exclusive)")
    return v


Target = Annotated[float, AfterValidator(_check_target)]
Minutes = Annotated[float, Field(gt=0)]


class RuleFields(StrictModel):
    """What both formats say about one alert rule (they differ only in the burn's name)."""

    window_minutes: Minutes
    short_window_minutes: Minutes | None = None
    severity: Severity | None = None
    resolve_after_minutes: Annotated[float, Field(ge=0)] = 0

    @property
    def burn(self) -> float:
        raise NotImplementedError

    @model_validator(mode="after")
    def _short_below_long(self) -> RuleFields:
        if (
            self.short_window_minutes is not None
            and self.short_window_minutes > self.window_minutes
        ):
            raise ValueError(
                f"short_window_minutes ({self.short_window_minutes:g}) must not exceed "
                f"window_minutes ({self.window_minutes:g})"
            )
        return self


class SeedAlert(RuleFields):
    threshold: Annotated[float, Field(gt=0)]

    @property
    def burn(self) -> float:
        return self.threshold


class Coverage(StrictModel):
    """Which requests of the service an SLO counts: ``operations`` (an outcome's route; for
    an OpenTelemetry span its name, its ``http.route`` or "METHOD route", e.g. "POST /pay"),
    all when omitted; and which OTLP span kinds are requests (server, optionally consumer)."""

    operations: (
        Annotated[list[Annotated[str, Field(min_length=1, max_length=500)]], Field(min_length=1)]
        | None
    ) = None
    span_kinds: Annotated[list[SpanKind], Field(min_length=1)] = ["server"]

    def coverage(self) -> dict[str, Any]:
        """The SLO fields of what it counts."""
        ops = self.operations
        return {
            "operations": frozenset(ops) if ops is not None else None,
            "span_kinds": frozenset(self.span_kinds),
        }


def check_zone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone such as 'UTC' or 'Europe/Berlin'") from None
    return v


class SloWindow(StrictModel):
    """The SLO window: rolling ``window_days``, or a ``calendar`` month/week in ``timezone``;
    and how the budget is counted: ``occurrences`` (bad/total events, the default) or
    ``timeslices`` (bad slices of ``timeslice_window_seconds`` whose good ratio is below
    ``timeslice_target``)."""

    window_days: Annotated[int, Field(gt=0, le=366)] | None = None
    calendar: Calendar | None = None
    timezone: Annotated[str, AfterValidator(check_zone)] = "UTC"
    budgeting_method: Literal["occurrences", "timeslices"] = "occurrences"
    timeslice_window_seconds: Annotated[int, Field(gt=0, le=900)] | None = None
    timeslice_target: Annotated[float, Field(gt=0, le=1)] | None = None
    # A `no_data` ticket when the SLO has had no event for this long (a silent producer or a
    # broken pipeline looks like a perfect SLO otherwise). Off unless set.
    no_data_minutes: Annotated[float, Field(gt=0, le=7 * 1440)] | None = None
    # Low-traffic guard (off unless set): see SLO.min_bad_events and SLO.burn_confidence.
    min_bad_events: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    burn_confidence: Annotated[float, Field(ge=0.5, lt=1)] | None = None

    def guard(self) -> dict[str, Any]:
        """The SLO fields of the low-traffic guard."""
        return {"min_bad_events": self.min_bad_events, "burn_confidence": self.burn_confidence}

    def no_data_rules(self, bucket_s: int) -> tuple[AlertRule, ...]:
        """The no-data ticket rule, when asked for."""
        if self.no_data_minutes is None:
            return ()
        w = whole_buckets(Fraction(str(self.no_data_minutes)) * 60, bucket_s)
        return (AlertRule(NO_DATA_RULE, "ticket", w, w, Fraction(0), kind="no_data"),)

    @model_validator(mode="after")
    def _one_window(self) -> SloWindow:
        if (self.window_days is None) == (self.calendar is None):
            raise ValueError(
                "expected exactly one of window_days (rolling) or calendar (month or week)"
            )
        sliced = self.timeslice_window_seconds is not None or self.timeslice_target is not None
        if self.budgeting_method == "timeslices":
            if self.timeslice_window_seconds is None or self.timeslice_target is None:
                raise ValueError(
                    "budgeting_method timeslices needs timeslice_window_seconds and "
                    "timeslice_target"
                )
            if 900 % self.timeslice_window_seconds:
                raise ValueError(
                    "timeslice_window_seconds must divide 900 (15 minutes), e.g. 60 or 300"
                )
        elif sliced:
            raise ValueError("timeslice_* fields need budgeting_method: timeslices")
        return self

    def timeslices(self) -> dict[str, Any]:
        """The SLO fields for the budgeting method."""
        if self.budgeting_method != "timeslices":
            return {}
        assert self.timeslice_target is not None
        return {
            "timeslice_s": self.timeslice_window_seconds,
            "timeslice_target": Fraction(str(self.timeslice_target)),
        }


# Service names key tables ("name|...") and topics: no "|", no whitespace or control characters.
ServiceKey = Annotated[str, Field(pattern=r"^[^|\s\x00-\x1f]{1,200}$")]


def whole_buckets(seconds: Fraction, bucket_s: int) -> int:
    """Seconds rounded up to whole buckets (at least one)."""
    return max(1, math.ceil(seconds / bucket_s)) * bucket_s


def _rule(name: str, r: RuleFields, bucket_s: int) -> AlertRule:
    """A file's rule as windows of whole buckets; the short window defaults to 1/12 of the long.

    Minutes are read as the decimals written (Fraction of their text), so 0.84 min is 50.4 s and
    rounds up to 60 s with 10-s buckets, never down through float error.
    """
    long_s = whole_buckets(Fraction(str(r.window_minutes)) * 60, bucket_s)
    short = (
        Fraction(str(r.short_window_minutes)) * 60
        if r.short_window_minutes is not None
        else Fraction(long_s, 12)
    )
    return AlertRule(
        name=name,
        severity=r.severity or ("page" if r.burn >= PAGE_BURN_FLOOR else "ticket"),
        long_window_s=long_s,
        short_window_s=min(long_s, whole_buckets(short, bucket_s)),
        burn=Fraction(str(r.burn)),
        resolve_after_s=math.ceil(Fraction(str(r.resolve_after_minutes)) * 60),
    )


def alert_rules(alerts: Mapping[str, RuleFields] | None, bucket_s: int) -> tuple[AlertRule, ...]:
    return tuple(_rule(n, r, bucket_s) for n, r in alerts.items()) if alerts else workbook_rules()
