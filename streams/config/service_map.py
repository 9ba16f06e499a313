"""The service map format (``configs/slo_config.yaml``): ``services: {name: {sli_type, target,
window_days, alerts}}`` and ``journeys``, mapped onto SLOs."""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Annotated

from pydantic import Field, model_validator

from streams.config.fields import (
    Coverage,
    SeedAlert,
    ServiceKey,
    SloWindow,
    Target,
    alert_rules,
)
from streams.config.notifications import Notifications
from streams.config.otlp import Otlp
from streams.config.settings import Settings
from streams.core.alerts import NO_DATA_RULE
from streams.core.enforcement import Enforcement, StrictModel
from streams.core.slo import JOURNEY, SLO, SliType


class ServiceEntry(SloWindow, Coverage):
    sli_type: SliType
    target: Target
    alerts: dict[str, SeedAlert] | None = None
    success_codes: list[Annotated[int, Field(ge=100, le=599)]] | None = None
    latency_threshold_ms: Annotated[float, Field(gt=0)] | None = None
    enforcement: Enforcement = Enforcement()

    @model_validator(mode="after")
    def _no_data_name_free(self) -> ServiceEntry:
        if self.no_data_minutes is not None and NO_DATA_RULE in (self.alerts or {}):
            raise ValueError(f"alert rule name {NO_DATA_RULE!r} is taken by no_data_minutes")
        return self


class JourneyMember(StrictModel):
    weight: Annotated[float, Field(gt=0, le=1e6)] = 1  # OpenSLO's compositeWeight


class JourneyEntry(SloWindow):
    """A user journey across services: its own target and budget over its members' events."""

    target: Target
    members: Annotated[dict[str, JourneyMember], Field(min_length=1)]
    alerts: dict[str, SeedAlert] | None = None


class ServiceMapFile(StrictModel):
    services: dict[ServiceKey, ServiceEntry] = {}
    journeys: dict[ServiceKey, JourneyEntry] = {}
    settings: Settings | None = None
    notifications: Notifications | None = None
    otlp: Otlp | None = None


def service_map_slos(doc: ServiceMapFile, source: str, bucket_s: int) -> list[SLO]:
    return [
        SLO(
            id=f"{name}:{svc.sli_type}",
            service=name,
            sli_type=svc.sli_type,
            target=Fraction(str(svc.target)),
            window_days=svc.window_days,
            alerts=alert_rules(svc.alerts, bucket_s) + svc.no_data_rules(bucket_s),
            success_codes=frozenset(svc.success_codes) if svc.success_codes else None,
            latency_threshold_ms=svc.latency_threshold_ms,
            source=source,
            calendar=svc.calendar,
            timezone=svc.timezone,
            enforcement=svc.enforcement,
            **svc.timeslices(),
            **svc.guard(),
            **svc.coverage(),
        )
        for name, svc in doc.services.items()
    ] + [
        SLO(
            id=f"{name}:{JOURNEY}",
            service=name,
            sli_type=JOURNEY,
            target=Fraction(str(j.target)),
            window_days=j.window_days,
            alerts=alert_rules(j.alerts, bucket_s) + j.no_data_rules(bucket_s),
            source=source,
            calendar=j.calendar,
            timezone=j.timezone,
            members=_integer_weights({m: Fraction(str(v.weight)) for m, v in j.members.items()}),
            **j.timeslices(),
            **j.guard(),
        )
        for name, j in doc.journeys.items()
    ]


def _integer_weights(weights: Mapping[str, Fraction]) -> tuple[tuple[str, int], ...]:
    """The smallest integers in the same proportions (0.5 : 1 : 0.25 -> 2 : 4 : 1), so weighted
    counts stay exact integers."""
    scale = math.lcm(*(w.denominator for w in weights.values()))
    ints = {m: int(w * scale) for m, w in weights.items()}
    g = math.gcd(*ints.values())
    return tuple((m, n // g) for m, n in ints.items())
