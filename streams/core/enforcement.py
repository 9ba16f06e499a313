"""Enforcement: what budget state does to releases, feature flags and notifications (the
policy document's ``enforcement`` section), with the defaults of DESIGN.md."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from streams.core.brief import brief


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FrozenModel(StrictModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReleaseGate(FrozenModel):
    """Release decisions by remaining budget (percent of the whole budget, 0..100).

    Above ``monitor_below_pct``: allow; down to ``signoff_below_pct``: allow, monitor; down to
    ``threshold_pct``: require sign-off; below it: ``action``. Exhausted for
    ``freeze_after_days`` (event time): freeze. Below ``reliability_work_below_pct`` the
    decision says to schedule reliability work. No data in the SLO window: the decision is
    ``no_data``, and ``on_no_data`` says whether a release may proceed on it (a new service
    has none; a silent one may be broken, which some teams would rather block).
    """

    threshold_pct: Annotated[float, Field(ge=0, le=100)] = 20
    action: Literal["block", "signoff", "freeze"] = "block"
    approval_override: bool = True
    signoff_below_pct: Annotated[float, Field(ge=0, le=100)] = 50
    monitor_below_pct: Annotated[float, Field(ge=0, le=100)] = 80
    freeze_after_days: Annotated[float, Field(gt=0)] = 7
    reliability_work_below_pct: Annotated[float, Field(ge=0, le=100)] = 10
    on_no_data: Literal["allow", "block"] = "allow"

    @model_validator(mode="after")
    def _ordered(self) -> ReleaseGate:
        if not self.threshold_pct <= self.signoff_below_pct <= self.monitor_below_pct:
            raise ValueError(
                "expected threshold_pct <= signoff_below_pct <= monitor_below_pct, got "
                f"{self.threshold_pct:g}, {self.signoff_below_pct:g}, {self.monitor_below_pct:g}"
            )
        return self


def check_url(value: str, secret: bool = False) -> str:
    """An absolute http(s) URL with a host, or "" (not set); ValueError naming what was
    expected otherwise. A secret URL (a Slack webhook) is never echoed in the error."""
    if not value:
        return value
    try:
        parts = urlsplit(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # e.g. a port that is not a number
        ok = False
    if not ok or any(c.isspace() for c in value):
        got = "(not shown: a secret)" if secret else brief(value)
        raise ValueError(f"expected an absolute http:// or https:// URL with a host, got {got}")
    return value


Url = Annotated[str, AfterValidator(check_url)]
SecretUrl = Annotated[str, AfterValidator(lambda v: check_url(v, secret=True))]


class FeatureFlag(FrozenModel):
    """Roll back (through ``webhook_url``) when a page fires burning at ``burn_threshold``+."""

    auto_rollback: bool = False
    burn_threshold: Annotated[float, Field(gt=0)] = 14.4
    webhook_url: Url = ""


# Names `when` accepts besides the SLO's own rules. The seed lists budget_exhaustion there; it
# raises no alert of its own (the release gate acts on it), so naming it routes nothing extra.
WHEN_EVENTS = ("budget_exhausted",)


class PolicyNotification(FrozenModel):
    channels: tuple[Annotated[str, Field(pattern=r"^(slack|pagerduty):\S+$")], ...] = ()
    when: tuple[str, ...] = ()


class Enforcement(FrozenModel):
    """What budget state does to releases, flags and notifications (defaults: DESIGN.md)."""

    release_gate: ReleaseGate = ReleaseGate()
    feature_flag: FeatureFlag = FeatureFlag()
    notification: PolicyNotification = PolicyNotification()
