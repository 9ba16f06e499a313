"""Alert identity and the alert event published to ``sloburn.alerts``: its fields, its
PagerDuty dedup key and its one-line summary."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict

from streams.core.durations import window_label

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
