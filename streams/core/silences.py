"""Silences: matchers on an alert's labels and a time range (Alertmanager semantics: expiring a
silence ends it now; it stays listed). Silenced alerts are not sent; their resolves still are."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from streams.core.timestamps import Instant

MAX_SILENCE_S = 90 * 86400


# "At least one matcher" as JSON Schema, for the API's OpenAPI document.
_SOME: dict[str, Any] = {
    "anyOf": [
        {"required": [k], "properties": {k: {"type": "string"}}}
        for k in ("service", "slo", "severity")
    ]
}


class Matchers(BaseModel):
    """Exact label matches; at least one, so a silence never mutes everything by accident."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_SOME)
    service: str | None = Field(default=None, min_length=1, max_length=200)
    slo: str | None = Field(default=None, min_length=1, max_length=300)
    severity: str | None = Field(default=None, pattern=r"^(page|ticket)$")

    @model_validator(mode="after")
    def _some(self) -> Matchers:
        if self.service is None and self.slo is None and self.severity is None:
            raise ValueError("give at least one matcher: service, slo or severity")
        return self

    def match(self, service: str, slo: str, severity: str) -> bool:
        """Whether an alert with these labels is matched."""
        return (
            (self.service is None or self.service == service)
            and (self.slo is None or self.slo == slo)
            and (self.severity is None or self.severity == severity)
        )


class Silence(BaseModel):
    """One silence as stored on the silences topic."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    matchers: Matchers
    starts_at: Instant
    ends_at: Instant
    created_by: str
    comment: str
    created_at: Instant

    def active(self, now: float) -> bool:
        """In force at ``now``."""
        return self.starts_at <= now < self.ends_at


class SilenceRequest(BaseModel):
    """Body of ``POST /v1/silences``: matchers, a comment, and an end (absolute or relative)."""

    model_config = ConfigDict(extra="forbid")
    matchers: Matchers
    comment: str = Field(min_length=1, max_length=1000)
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    duration_seconds: float | None = Field(default=None, gt=0, le=MAX_SILENCE_S)

    def silence(self, who: str, now: float) -> Silence:
        """The silence to store; ValueError when the time range makes no sense."""
        if (self.ends_at is None) == (self.duration_seconds is None):
            raise ValueError("give exactly one of ends_at (a time) or duration_seconds")
        start = self.starts_at if self.starts_at is not None else now
        end = self.ends_at if self.ends_at is not None else start + (self.duration_seconds or 0)
        if not (end > start and end > now and end - start <= MAX_SILENCE_S):
            raise ValueError("ends_at must be in the future, after starts_at, within 90 days")
        return Silence(
            id=uuid.uuid4().hex,
            matchers=self.matchers,
            starts_at=start,
            ends_at=end,
            created_by=who,
            comment=self.comment,
            created_at=now,
        )


def silencing(
    silences: Iterable[Silence], service: str, slo: str, severity: str, now: float
) -> Silence | None:
    """The first active silence matching the alert, or None."""
    return next(
        (s for s in silences if s.active(now) and s.matchers.match(service, slo, severity)), None
    )
