"""Wire schemas: request outcomes in, SLI records between agents, alert events out.

Inbound events are validated strictly (a string where a number belongs is an error, not a
coercion) because every accepted event moves an error budget. Producers may add fields of their
own (trace ids, hosts); those are ignored, not rejected.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from streams.core.durations import window_label


def _event_time(v: object) -> float:
    """Accept unix seconds (int/float) or an ISO 8601 string; return unix seconds."""
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise PydanticCustomError("time_type", "expected unix seconds or an ISO 8601 time")
    if isinstance(v, int | float):
        f = float(v)
    else:
        try:
            d = datetime.fromisoformat(v)
        except ValueError:
            raise ValueError("expected unix seconds or an ISO 8601 time") from None
        f = (d if d.tzinfo else d.replace(tzinfo=UTC)).timestamp()
    if not math.isfinite(f) or f <= 0:
        raise ValueError("expected a finite time after 1970-01-01")
    return f


EventTime = Annotated[float, BeforeValidator(_event_time)]
ServiceName = Annotated[str, Field(strict=True, min_length=1, max_length=200)]
# At most a trillion requests per pre-counted event: sums must stay within 64-bit integers,
# which orjson (table values, SLI records) cannot exceed.
Count = Annotated[int, Field(strict=True, ge=0, le=10**12)]


class RawOutcome(BaseModel):
    """One request's outcome, as a service reports it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    service: ServiceName
    ts: EventTime
    status_code: Annotated[int, Field(strict=True, ge=100, le=599)]
    latency_ms: Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)] | None = None
    route: Annotated[str, Field(strict=True, max_length=500)] | None = None
    ok: Annotated[bool, Field(strict=True)] | None = None


class AggregateOutcome(BaseModel):
    """Pre-counted outcomes of one interval; ``slo`` picks one SLO of the service."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    service: ServiceName
    ts: EventTime
    good: Count
    total: Count
    slo: Annotated[str, Field(strict=True, min_length=1)] | None = None

    @model_validator(mode="after")
    def _good_within_total(self) -> AggregateOutcome:
        if self.good > self.total:
            raise ValueError("good_exceeds_total")
        return self


@dataclass(frozen=True)
class SliRecord:
    """One ingest batch's counts for one SLO from one source partition.

    Each contribution keeps its source message's offset: the window agent applies exactly the
    messages a table block does not hold yet, however ingest cut its batches (a batch re-run
    after a crash may be cut differently). Internal (we write and read it): a plain dataclass.
    """

    slo: str
    counts: list[tuple[int, int, int, int]]  # (source offset, bucket start unix s, bad, total)
    newest_ts: float  # unix seconds
    src_partition: int

    def to_bytes(self) -> bytes:
        """Compact JSON array form."""
        return orjson.dumps([self.slo, self.counts, self.newest_ts, self.src_partition])

    @classmethod
    def from_bytes(cls, raw: bytes) -> SliRecord:
        """Inverse of to_bytes; ValueError for anything to_bytes would not have written (the
        topic is ours, but a record the window table cannot take must not reach it)."""
        slo, counts, newest, part = orjson.loads(raw)
        if not (
            type(slo) is str
            and type(counts) is list
            and type(newest) in (int, float)
            and type(part) is int
            and part >= 0
            and all(
                type(c) is list and len(c) == 4 and all(type(x) is int for x in c) for c in counts
            )
        ):
            raise ValueError(
                "not an SLI record: expected [slo, [[offset, start, bad, total]...], "
                "newest_ts, partition]"
            )
        return cls(slo, [tuple(c) for c in counts], float(newest), part)


AlertStateName = Literal["firing", "resolved"]


def group_key(slo: str, rule: str, severity: str) -> str:
    """Stable identity of an alert: sorted stable fields, versioned.

    Changing this scheme needs a version bump (v1 -> v2) *and* a transition that still resolves
    incidents opened under the old key; otherwise open PagerDuty incidents never resolve.
    """
    fields = {"rule": rule, "severity": severity, "slo": slo}
    return "v1{" + ",".join(f"{k}={fields[k]!r}" for k in sorted(fields)) + "}"


def dedup_key(slo: str, rule: str, severity: str) -> str:
    """PagerDuty dedup_key: SHA-256 hex of the group key (trigger and resolve share it)."""
    return hashlib.sha256(group_key(slo, rule, severity).encode()).hexdigest()


SUMMARY_FIELDS = (
    "SEVERITY",
    "severity",
    "slo",
    "service",
    "rule",
    "state",
    "verb",
    "long_burn",
    "short_burn",
    "long_window",
    "short_window",
    "threshold",
    "budget_remaining",
)
NO_DATA_RULE = "no_data"  # the rule name of the no-data ticket (config: no_data_minutes)
NO_DATA_SUMMARY = "[{SEVERITY}] {slo} {verb}"
DEFAULT_SUMMARY = (
    "[{SEVERITY}] {slo} {verb}: {long_burn:.1f}x over {long_window}, {short_burn:.1f}x over "
    "{short_window} (threshold {threshold:g}x); budget remaining {budget_remaining:.1%}"
)


class AlertEvent(BaseModel):
    """A burn-rate alert changing state; published to ``sloburn.alerts``."""

    model_config = ConfigDict(frozen=True)

    id: str
    slo: str
    service: str
    rule: str
    severity: Literal["page", "ticket"]
    state: AlertStateName
    long_window_s: int
    short_window_s: int
    long_burn_rate: float
    short_burn_rate: float
    threshold: float
    budget_remaining: float  # ratio of the whole budget; negative when overspent
    ts: float  # event time of the evaluation, unix seconds
    dedup_key: str
    # Seconds until the budget is gone at the faster of the 1h/6h burn rates; None: never.
    time_to_exhaustion_s: float | None = None

    def _verb(self) -> str:
        if self.rule == NO_DATA_RULE:
            if self.state == "firing":
                return f"has received no events for {window_label(self.long_window_s)}"
            return "receives events again"
        return "burning error budget" if self.state == "firing" else "recovered"

    @property
    def summary(self) -> str:
        """One human line, in the default wording."""
        return self.summary_with(DEFAULT_SUMMARY)

    def summary_with(self, template: str) -> str:
        """The summary in a config's ``summary_template`` (placeholders: SUMMARY_FIELDS); a
        no-data ticket has no burn rates to show and says what it means instead."""
        if self.rule == NO_DATA_RULE:
            template = NO_DATA_SUMMARY
        return template.format_map(
            {
                "SEVERITY": self.severity.upper(),
                "severity": self.severity,
                "slo": self.slo,
                "service": self.service,
                "rule": self.rule,
                "state": self.state,
                "verb": self._verb(),
                "long_burn": self.long_burn_rate,
                "short_burn": self.short_burn_rate,
                "long_window": window_label(self.long_window_s),
                "short_window": window_label(self.short_window_s),
                "threshold": self.threshold,
                "budget_remaining": self.budget_remaining,
            }
        )
