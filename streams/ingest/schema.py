"""Wire schemas of the outcomes services publish to ``sloburn.outcomes``.

Inbound events are validated strictly (a string where a number belongs is an error, not a
coercion) because every accepted event moves an error budget. Producers may add fields of their
own (trace ids, hosts); those are ignored, not rejected.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError


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
