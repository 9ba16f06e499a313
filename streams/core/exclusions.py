"""Maintenance windows and corrections: event-time ranges whose events do not count.

They live on ``sloburn.control`` (created and deleted through the API or ``sloburn exclude``,
with a token, audited) and take effect retroactively: the bucket store keeps every event, and
each evaluation subtracts the cells an exclusion overlaps (10-s cells for windows up to 6 h,
15-minute cells for longer windows and the SLO window), so budgets and burn rates recompute at
the next evaluation, and a replay given the same exclusions computes the same.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from streams.core.silences import Matchers
from streams.core.slo_math import Counts
from streams.core.timestamps import Instant, iso

MAX_SPAN_S = 400 * 86400

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

    def applies(self, service: str, slo_id: str) -> bool:
        """In force (not deleted) for this SLO."""
        return self.deleted_at is None and self.matchers.match(service, slo_id, "")


class ExclusionRequest(BaseModel):
    """Body of ``POST /v1/exclusions``: which SLOs, which event-time range, and why."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["maintenance", "correction"] = "maintenance"
    matchers: Matchers
    starts_at: Instant
    ends_at: Instant
    comment: str = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _sane(self) -> ExclusionRequest:
        if self.matchers.severity is not None:
            raise ValueError("matchers: an exclusion matches service or slo, not severity")
        if not 0 < self.ends_at - self.starts_at <= MAX_SPAN_S:
            raise ValueError("ends_at must be after starts_at, within 400 days")
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
        )


def spans_for(
    exclusions: Iterable[Exclusion], service: str, slo_id: str
) -> list[tuple[float, float]]:
    """The event-time ranges excluded for one SLO."""
    return [(e.starts_at, e.ends_at) for e in exclusions if e.applies(service, slo_id)]


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
