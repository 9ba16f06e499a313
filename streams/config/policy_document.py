"""The error-budget policy document (``configs/error-budget-policy.yaml``): ``policy: {version,
services: [{name, sli, slo, burn_rates, enforcement}]}``, mapped onto SLOs."""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated

from pydantic import Field

from streams.config.fields import (
    Coverage,
    RuleFields,
    ServiceKey,
    SloWindow,
    Target,
    alert_rules,
)
from streams.config.notifications import Notifications
from streams.config.otlp import Otlp
from streams.config.settings import Settings
from streams.core.enforcement import Enforcement, StrictModel
from streams.core.slo import SLO, SliType


class PolicySli(Coverage):
    metric: str | None = None
    le: Annotated[float, Field(gt=0)] | None = None  # seconds, as in a Prometheus histogram
    label: str | None = None
    success_values: list[Annotated[str, Field(pattern=r"^[1-5][0-9][0-9]$")]] | None = None


class PolicySlo(SloWindow):
    target: Target


class PolicyBurnRate(RuleFields):
    multiplier: Annotated[float, Field(gt=0)]

    @property
    def burn(self) -> float:
        return self.multiplier


class PolicyService(StrictModel):
    name: ServiceKey
    sli: PolicySli
    slo: PolicySlo
    burn_rates: dict[str, PolicyBurnRate] | None = None
    enforcement: Enforcement = Enforcement()


class PolicyBody(StrictModel):
    version: str | None = None
    evaluation_interval: str | None = None
    services: list[PolicyService]


class PolicyFile(StrictModel):
    policy: PolicyBody
    settings: Settings | None = None
    notifications: Notifications | None = None
    otlp: Otlp | None = None


def policy_slos(doc: PolicyFile, source: str, bucket_s: int) -> list[SLO]:
    out = []
    for svc in doc.policy.services:
        le = svc.sli.le
        sli_type: SliType = "latency" if le is not None else "success_rate"
        codes = svc.sli.success_values
        out.append(
            SLO(
                id=f"{svc.name}:{sli_type}",
                service=svc.name,
                sli_type=sli_type,
                target=Fraction(str(svc.slo.target)),
                window_days=svc.slo.window_days,
                calendar=svc.slo.calendar,
                timezone=svc.slo.timezone,
                enforcement=svc.enforcement,
                policy_version=doc.policy.version or "default",
                **svc.slo.timeslices(),
                **svc.slo.guard(),
                **svc.sli.coverage(),
                alerts=alert_rules(svc.burn_rates, bucket_s) + svc.slo.no_data_rules(bucket_s),
                success_codes=frozenset(int(c) for c in codes) if codes else None,
                # le is in seconds; exact decimal arithmetic so 2.01 s is 2010 ms, not 2009.99...
                latency_threshold_ms=float(Fraction(str(le)) * 1000) if le is not None else None,
                source=source,
            )
        )
    return out
