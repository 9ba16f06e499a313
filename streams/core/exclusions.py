"""Maintenance windows and corrections: event-time ranges whose events do not count.

They live on ``sloburn.control`` (created and deleted through the API or ``sloburn exclude``,
with a token, audited) and take effect retroactively: the bucket store keeps every event, and
each evaluation subtracts the cells an exclusion overlaps (10-s cells for windows up to 6 h,
15-minute cells for longer windows and the SLO window), so budgets and burn rates recompute at
the next evaluation, and a replay given the same exclusions computes the same.

A maintenance window that recurs carries an RFC 5545 recurrence rule (``FREQ=WEEKLY;BYDAY=SU``)
and a time zone: ``starts_at``..``ends_at`` is its first occurrence, and every occurrence
starts at the same wall-clock time in that zone (02:00 stays 02:00 across a DST change) and
lasts as long. The rule is read by python-dateutil's rrule, not by a parser of our own.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from dateutil.rrule import rrule, rrulestr
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from streams.core.silences import Matchers
from streams.core.slo_math import Counts
from streams.core.timestamps import Instant, iso

MAX_SPAN_S = 400 * 86400
MAX_OCCURRENCES = 10_000  # of a recurring exclusion in 400 days: hourly fits

RangeFn = Callable[..., Counts]  # BucketStore.range(slo_id, lo, hi, res, slices=False)


class Exclusion(BaseModel):
    """One maintenance window or correction as stored on the control topic."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    kind: Literal["maintenance", "correction"]
    matchers: Matchers
    starts_at: Instant  # event time
    ends_at: Instant
    created_by: str
    comment: str
    created_at: Instant
    deleted_at: Instant | None = None
    rrule: str | None = None  # RFC 5545 RRULE; starts_at..ends_at is the first occurrence
    timezone: str = "UTC"  # IANA zone whose wall clock the occurrences keep

    def applies(self, service: str, slo_id: str) -> bool:
        """In force (not deleted) for this SLO."""
        return self.deleted_at is None and self.matchers.match(service, slo_id, "")

    def spans(self, lo: float, hi: float) -> list[tuple[float, float]]:
        """Its event-time ranges (unix s) that overlap [lo, hi]."""
        if self.rrule is None:
            return (
                [(self.starts_at, self.ends_at)]
                if self.ends_at > lo and self.starts_at <= hi
                else []
            )
        length = self.ends_at - self.starts_at
        days = (math.floor((lo - length) / DAY_S), math.ceil(hi / DAY_S))
        every = occurrences(self.rrule, self.timezone, self.starts_at, length, *days)
        return [(a, b) for a, b in every if b > lo and a <= hi]


class ExclusionRequest(BaseModel):
    """Body of ``POST /v1/exclusions``: which SLOs, which event-time range, and why."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["maintenance", "correction"] = "maintenance"
    matchers: Matchers
    starts_at: Instant
    ends_at: Instant
    comment: str = Field(min_length=1, max_length=1000)
    rrule: str | None = Field(
        None,
        max_length=500,
        description="RFC 5545 recurrence rule, e.g. FREQ=WEEKLY;BYDAY=SU: starts_at..ends_at "
        "is then the first occurrence, and each one starts at its wall-clock time in timezone",
    )
    timezone: str = Field("UTC", max_length=100, description="IANA time zone of the rrule")

    @model_validator(mode="after")
    def _sane(self) -> ExclusionRequest:
        if self.matchers.severity is not None:
            raise ValueError("matchers: an exclusion matches service or slo, not severity")
        if not 0 < self.ends_at - self.starts_at <= MAX_SPAN_S:
            raise ValueError("ends_at must be after starts_at, within 400 days")
        problem = recurrence_problem(self.rrule, self.timezone, self.starts_at)
        if problem is not None:
            raise ValueError(problem)
        return self

    def exclusion(self, who: str, now: float) -> Exclusion:
        """The exclusion to store."""
        return Exclusion(
            id=uuid.uuid4().hex,
            kind=self.kind,
            matchers=self.matchers,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            created_by=who,
            comment=self.comment,
            created_at=now,
            rrule=self.rrule,
            timezone=self.timezone,
        )


DAY_S = 86400


def _rule(text: str, zone: str, first: float) -> rrule:
    dtstart = datetime.fromtimestamp(first, ZoneInfo(zone))
    rule = rrulestr(text.removeprefix("RRULE:"), dtstart=dtstart)
    if not isinstance(rule, rrule):  # an RRULE only: no EXDATE/RDATE sets, no DTSTART
        raise ValueError("expected one RRULE")
    return rule


def recurrence_problem(text: str | None, zone: str, first: float) -> str | None:
    """Why a recurrence cannot be used, or None (also for none at all)."""
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return f"timezone: expected an IANA time zone such as Europe/Berlin, got {zone!r}"
    if text is None:
        return None
    if "DTSTART" in text.upper():
        return "rrule: the first occurrence is starts_at; leave DTSTART out"
    try:
        rule = _rule(text, zone, first)
    except (ValueError, TypeError) as e:
        return f"rrule: expected an RFC 5545 RRULE such as FREQ=WEEKLY;BYDAY=SU ({e})"
    # Every evaluation expands the rule over its SLO's window: bound what that can cost.
    end = datetime.fromtimestamp(first + MAX_SPAN_S, ZoneInfo(zone))
    for n, start in enumerate(rule):
        if start > end:
            break
        if n >= MAX_OCCURRENCES:
            return f"rrule: more than {MAX_OCCURRENCES} occurrences in 400 days"
    return None


@lru_cache(maxsize=4096)
def occurrences(
    text: str, zone: str, first: float, length: float, day_lo: int, day_hi: int
) -> tuple[tuple[float, float], ...]:
    """(start, end) unix s of every occurrence starting in days [day_lo, day_hi] (unix days):
    asked per SLO and evaluation, the same days all day, so kept."""
    tz = ZoneInfo(zone)
    lo = datetime.fromtimestamp(day_lo * DAY_S, tz)
    hi = datetime.fromtimestamp(day_hi * DAY_S, tz)
    return tuple(
        (t.timestamp(), t.timestamp() + length)
        for t in _rule(text, zone, first).between(lo, hi, inc=True)
    )


def spans_for(
    exclusions: Iterable[Exclusion], service: str, slo_id: str, lo: float, hi: float
) -> list[tuple[float, float]]:
    """The event-time ranges excluded for one SLO that overlap [lo, hi] (unix s)."""
    return [span for e in exclusions if e.applies(service, slo_id) for span in e.spans(lo, hi)]


def _cells(spans: Iterable[tuple[float, float]], res: int) -> list[tuple[int, int]]:
    """Merged [first cell, end) ranges covering every cell of ``res`` a span overlaps, so a
    cell two exclusions share is subtracted once."""
    out: list[tuple[int, int]] = []
    for a, b in sorted((math.floor(s / res) * res, math.ceil(e / res) * res) for s, e in spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def excluded(
    range_fn: RangeFn,
    slo_id: str,
    spans: list[tuple[float, float]],
    lo: float,
    hi: float,
    res: int,
    slices: bool = False,
) -> Counts:
    """Counts of the cells of ``res`` with start in (lo, hi] that an exclusion overlaps."""
    total = Counts()
    for a, b in _cells(spans, res):
        # Cell starts in [a, b) as the store's (lo, hi] on starts: (a - 1/2, b - 1/2].
        first, last = max(lo, a - 0.5), min(hi, b - 0.5)
        if first < last:
            total = total + range_fn(slo_id, first, last, res, slices)
    return total


def exclusion_json(e: Exclusion) -> dict[str, Any]:
    """How the API shows an exclusion, times ISO 8601 UTC (and what ``read_exclusions`` reads
    back)."""
    times = ("starts_at", "ends_at", "created_at", "deleted_at")
    return {
        **e.model_dump(),
        **{k: iso(getattr(e, k)) for k in times},
        "status": "deleted" if e.deleted_at is not None else "active",
    }


def read_exclusions(path: Path) -> list[Exclusion]:
    """Exclusions saved from ``GET /v1/exclusions``, for a replay; ValueError if unreadable."""
    try:
        doc = orjson.loads(path.read_bytes())
        return [
            Exclusion.model_validate({k: v for k, v in item.items() if k != "status"})
            for item in doc["exclusions"]
        ]
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"expected the JSON of GET /v1/exclusions ({e})") from None
    except ValidationError as e:
        raise ValueError(f"invalid exclusion: {e.errors()[0]['msg']}") from None
