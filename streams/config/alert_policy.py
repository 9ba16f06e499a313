"""Alert-policy files: a named rule set to try on every SLO (``sloburn backtest --policy``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError

from streams.config.errors import ConfigError, describe
from streams.config.fields import SeedAlert, alert_rules
from streams.config.loading import read_yaml
from streams.config.model import Config
from streams.core.enforcement import StrictModel
from streams.core.slo import AlertRule


class AlertPolicyFile(StrictModel):
    """A set of alert rules to try on every SLO (``sloburn backtest --policy``)."""

    name: Annotated[str, Field(min_length=1)] | None = None
    alerts: Annotated[dict[str, SeedAlert], Field(min_length=1)]


@dataclass(frozen=True)
class AlertPolicy:
    """A named rule set; ``apply`` gives the config with every SLO alerting by these rules."""

    name: str
    rules: tuple[AlertRule, ...]

    def apply(self, cfg: Config) -> Config:
        """The config with every SLO's alert rules replaced by this policy's."""
        return replace(cfg, slos=tuple(replace(s, alerts=self.rules) for s in cfg.slos))


def load_alert_policy(path: str | Path, bucket_s: int) -> AlertPolicy:
    """Read an alert policy file; ConfigError lines name the file and field as elsewhere."""
    p = Path(path)
    data = read_yaml(p)
    try:
        doc = AlertPolicyFile.model_validate(data)
    except ValidationError as e:
        raise ConfigError([f"{p}: {describe(err)}" for err in e.errors()]) from None
    return AlertPolicy(doc.name or p.stem, alert_rules(doc.alerts, bucket_s))
