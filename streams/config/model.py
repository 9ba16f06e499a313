"""SLO configuration: both seed formats parsed and validated onto one internal model.

Two file shapes are accepted and may be combined:

* the service map (``configs/slo_config.yaml``): ``services: {name: {sli_type, target,
  window_days, alerts: {rule: {window_minutes, threshold}}}}``;
* the policy document (``configs/error-budget-policy.yaml``): ``policy: {version,
  services: [{name, sli, slo, burn_rates, enforcement}]}``.

Either may carry ``settings`` (engine tuning) and ``notifications`` (receivers). Every problem is
reported as one line ``FILE: field.path: expectation, got VALUE``; nothing else reaches the user.
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cached_property
from pathlib import Path
from statistics import NormalDist
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from streams.config import openslo, safe_yaml
from streams.core.alerts import DEFAULT_SUMMARY, NO_DATA_RULE, SUMMARY_FIELDS
from streams.core.brief import brief
from streams.core.periods import Calendar, period_bounds

SliType = Literal["success_rate", "latency"]
JOURNEY: Literal["journey"] = (
    "journey"  # the sli_type of a composite SLO (journeys.<name> in a service map)
)
Severity = Literal["page", "ticket"]

# The SRE Workbook multi-window, multi-burn-rate set: (name, long window s, short window s,
# burn threshold, severity).
WORKBOOK_RULES: tuple[tuple[str, int, int, float, Severity], ...] = (
    ("page_1h_5m", 3600, 300, 14.4, "page"),
    ("page_6h_30m", 6 * 3600, 1800, 6.0, "page"),
    ("ticket_1d_2h", 86400, 7200, 3.0, "ticket"),
    ("ticket_3d_6h", 3 * 86400, 6 * 3600, 1.0, "ticket"),
)

# Windows whose burn rates project budget exhaustion (seconds): 1h and 6h.
EXHAUSTION_WINDOWS_S = (3600, 6 * 3600)
# Windows up to this long sum 10-s base cells; longer ones (the Workbook's 1d and 3d) 15-minute
# roll-ups. The Workbook's page windows (5m-6h) stay exact to the bucket.
BASE_WINDOW_MAX_S = 6 * 3600

# A seed-style rule names only one window; without an explicit severity, burns at or above this
# page (the Workbook pages at 14.4 and 6, and tickets at 3 and 1).
PAGE_BURN_FLOOR = 6.0


class ConfigError(Exception):
    """A configuration that cannot run; ``lines`` are user-facing, one problem each."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


# ---------------------------------------------------------------------------------------------
# Enforcement: what budget state does to releases and flags (the policy document's section).


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Frozen(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReleaseGate(_Frozen):
    """Release decisions by remaining budget (percent of the whole budget, 0..100).

    Above ``monitor_below_pct``: allow; down to ``signoff_below_pct``: allow, monitor; down to
    ``threshold_pct``: require sign-off; below it: ``action``. Exhausted for
    ``freeze_after_days`` (event time): freeze. Below ``reliability_work_below_pct`` the
    decision says to schedule reliability work.
    """

    threshold_pct: Annotated[float, Field(ge=0, le=100)] = 20
    action: Literal["block", "signoff", "freeze"] = "block"
    approval_override: bool = True
    signoff_below_pct: Annotated[float, Field(ge=0, le=100)] = 50
    monitor_below_pct: Annotated[float, Field(ge=0, le=100)] = 80
    freeze_after_days: Annotated[float, Field(gt=0)] = 7
    reliability_work_below_pct: Annotated[float, Field(ge=0, le=100)] = 10

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
        got = "(not shown: a secret)" if secret else _fmt_input(value)
        raise ValueError(f"expected an absolute http:// or https:// URL with a host, got {got}")
    return value


Url = Annotated[str, AfterValidator(check_url)]
SecretUrl = Annotated[str, AfterValidator(lambda v: check_url(v, secret=True))]


class FeatureFlag(_Frozen):
    """Roll back (through ``webhook_url``) when a page fires burning at ``burn_threshold``+."""

    auto_rollback: bool = False
    burn_threshold: Annotated[float, Field(gt=0)] = 14.4
    webhook_url: Url = ""


# Names `when` accepts besides the SLO's own rules. The seed lists budget_exhaustion there; it
# raises no alert of its own (the release gate acts on it), so naming it routes nothing extra.
WHEN_EVENTS = ("budget_exhausted",)


class PolicyNotification(_Frozen):
    channels: tuple[Annotated[str, Field(pattern=r"^(slack|pagerduty):\S+$")], ...] = ()
    when: tuple[str, ...] = ()


class Enforcement(_Frozen):
    """What budget state does to releases, flags and notifications (defaults: DESIGN.md)."""

    release_gate: ReleaseGate = ReleaseGate()
    feature_flag: FeatureFlag = FeatureFlag()
    notification: PolicyNotification = PolicyNotification()


# ---------------------------------------------------------------------------------------------
# Internal model: what the engine runs on, whatever file shape it came from.


@dataclass(frozen=True)
class AlertRule:
    """One multi-window burn-rate rule; windows in seconds, ``burn`` in budget-rate multiples."""

    name: str
    severity: Severity
    long_window_s: int
    short_window_s: int
    burn: Fraction
    resolve_after_s: int = 0
    # "no_data": fires when its window holds no event at all (burn and thresholds unused).
    kind: Literal["burn", "no_data"] = "burn"

    @cached_property
    def burn_parts(self) -> tuple[int, int]:
        """(a, b) with burn == a / b: exact integer comparisons in the hot path."""
        return self.burn.numerator, self.burn.denominator


@dataclass(frozen=True)
class SLO:
    """One objective of one service; ``target`` is a ratio in (0, 1), kept exact as a Fraction."""

    id: str
    service: str
    sli_type: SliType | Literal["journey"]
    target: Fraction
    window_days: int | None  # rolling SLO window; None when ``calendar`` is set
    alerts: tuple[AlertRule, ...]
    success_codes: frozenset[int] | None = None  # None: every status below 500 is a success
    latency_threshold_ms: float | None = None
    source: str = ""
    calendar: Calendar | None = None  # calendar SLO window (month, week) in ``timezone``
    timezone: str = "UTC"
    # Timeslices budgeting (OpenSLO): a slice of timeslice_s seconds is good when its good ratio
    # is at least timeslice_target; the budget counts bad slices. None: occurrences.
    timeslice_s: int | None = None
    timeslice_target: Fraction | None = None
    enforcement: Enforcement = field(default_factory=Enforcement)
    policy_version: str = "default"  # the policy document's version, for audit
    # Low-traffic guard: a burn-rate alert needs this many bad events in its long window, and,
    # with a confidence, the lower confidence bound of the long window's error ratio (Wilson)
    # to exceed the threshold rather than the point estimate.
    min_bad_events: int = 0
    burn_confidence: float | None = None
    # A journey (composite SLO): (member SLO id, integer weight). Each outcome counted for a
    # member counts here too, times its weight; empty for a plain SLO.
    members: tuple[tuple[str, int], ...] = ()

    @cached_property
    def budget_parts(self) -> tuple[int, int]:
        """(p, q) with 1 - target == p / q: the error budget ratio as exact integers."""
        ratio = 1 - self.target
        return ratio.numerator, ratio.denominator

    @cached_property
    def burn_z(self) -> float | None:
        """The one-sided normal quantile of ``burn_confidence`` (None: point estimates)."""
        if self.burn_confidence is None:
            return None
        return NormalDist().inv_cdf(self.burn_confidence)

    def is_success(self, status_code: int) -> bool:
        """Whether a response status counts as good for this SLO's SLI."""
        if self.success_codes is None:
            return status_code < 500
        return status_code in self.success_codes

    @cached_property
    def windows_s(self) -> tuple[int, ...]:
        """Every distinct window this SLO evaluates (alert windows, and 1h and 6h for budget
        exhaustion projections), seconds, ascending."""
        alert = {w for r in self.alerts for w in (r.long_window_s, r.short_window_s)}
        return tuple(sorted(alert | set(EXHAUSTION_WINDOWS_S)))

    @cached_property
    def base_horizon_s(self) -> int:
        """How far back base-resolution cells are needed: the longest window of at most
        BASE_WINDOW_MAX_S. Longer windows add 15-minute roll-ups, whose edge moves in 15-minute
        steps: under 1 % of a day, and it keeps an SLO's memory a few hours of 10-s cells."""
        return max((w for w in self.windows_s if w <= BASE_WINDOW_MAX_S), default=0)

    @cached_property
    def retention_s(self) -> int:
        """How far back any window of this SLO reaches (a calendar month: up to 31 days)."""
        if self.calendar is not None:
            return (31 if self.calendar == "month" else 7) * 86400 + 3600
        assert self.window_days is not None
        return max(self.window_days * 86400, *self.windows_s)

    def budget_window(self, t: float) -> tuple[float, int]:
        """The SLO window at t: its start (unix s) and length (s). Rolling windows end at t;
        a calendar period starts at local midnight and may differ in length (months, DST)."""
        if self.calendar is not None:
            start, end = period_bounds(t, self.calendar, self.timezone)
            return start, end - start
        assert self.window_days is not None
        return t - self.window_days * 86400, self.window_days * 86400

    @property
    def window_label(self) -> str:
        """The SLO window as people say it: '30d', 'calendar month (Europe/Berlin)'."""
        if self.calendar is not None:
            return f"calendar {self.calendar} ({self.timezone})"
        return f"{self.window_days}d"


class Settings(BaseModel):
    """Engine tuning shared by every SLO (all durations in seconds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket_seconds: Annotated[int, Field(gt=0, le=3600)] = 10
    evaluation_interval_seconds: Annotated[float, Field(gt=0, le=3600)] = 1.0
    allowed_lateness_seconds: Annotated[int, Field(ge=0)] = 300
    max_future_seconds: Annotated[int, Field(ge=0)] = 300
    partitions: Annotated[int, Field(gt=0, le=256)] = 8
    max_message_bytes: Annotated[int, Field(gt=0, le=16 * 2**20)] = 2**20
    # How often consumed offsets are committed (Faust's default). Counting is exact whatever
    # it is; a longer interval only means more redelivery, which the tables skip, after a crash.
    commit_interval_seconds: Annotated[float, Field(gt=0, le=3600)] = 2.8
    # Each table partition is also kept warm on this many other workers, so a failover does
    # not wait for a full changelog replay.
    standby_replicas: Annotated[int, Field(ge=0, le=8)] = 1
    # Replicas of each topic sloburn creates (its own and the tables' changelogs). Unset: 3 on
    # an Apache Kafka cluster of three brokers or more, else as many as it has; 1 on the
    # embedded broker (streams.kafka.broker_probe). Existing topics are never altered.
    replication_factor: Annotated[int, Field(gt=0, le=16)] | None = None

    @field_validator("bucket_seconds")
    @classmethod
    def _divides_hour(cls, v: int) -> int:
        if 3600 % v:
            raise ValueError("must divide 3600 evenly (e.g. 5, 10, 15, 30, 60)")
        return v


SECRET_FILE_MAX_BYTES = 64 * 1024


def _secret(value: str, path: str, field: str) -> str:
    """A secret given inline (``${ENV}``) or as a file path (``*_file``, e.g. a mounted secret):
    a regular UTF-8 file of at most 64 KiB (not a FIFO that blocks, nor /dev/zero)."""
    if path:
        try:
            raw, _ = safe_yaml.read_regular_file(path, SECRET_FILE_MAX_BYTES)
            return raw.decode("utf-8").strip()
        except OSError as e:
            raise ValueError(f"{field}_file: cannot read {path}: {e.strerror}") from None
        except safe_yaml.FileRefused as e:
            raise ValueError(f"{field}_file: cannot read {path}: {e}") from None
        except UnicodeDecodeError:
            raise ValueError(f"{field}_file: {path}: expected UTF-8 text") from None
    return value


def secret_file_warnings(path: str, euid: int) -> list[str]:
    """Why a secret file's permissions deserve a look (empty: none): readable by group or
    others, or readable only because the process runs as root (so it would fail the day the
    worker runs as the user the file was meant for)."""
    try:
        st = os.stat(path)
    except OSError:
        return []  # reading it already failed with its reason
    mode = stat.S_IMODE(st.st_mode)
    out = []
    if mode & 0o077:
        who = " and ".join(w for w, bits in (("group", 0o070), ("others", 0o007)) if mode & bits)
        out.append(f"{path} is accessible to {who} (mode {mode:04o}); expected 0600 or 0400")
    if euid == 0 and (not mode & 0o400 or (st.st_uid != 0 and not mode & 0o004)):
        out.append(
            f"{path} is readable only because the worker runs as root (owner uid {st.st_uid}, "
            f"mode {mode:04o}); give it to the worker's user with mode 0600"
        )
    return out


class Receiver(_Frozen):
    """One notification target. Secrets must be non-empty: a declared receiver that can't
    deliver is a config error at start, not a page lost at 3 a.m."""

    type: Literal["slack", "pagerduty"]
    webhook_url: SecretUrl = ""  # slack
    webhook_url_file: str = ""
    channel: str = ""  # slack: overrides the webhook's default channel
    routing_key: str = ""  # pagerduty (Events API v2 integration key)
    routing_key_file: str = ""
    events_url: Url = "https://events.pagerduty.com/v2/enqueue"

    @model_validator(mode="after")
    def _secrets_present(self) -> Receiver:
        key = "webhook_url" if self.type == "slack" else "routing_key"
        value = _secret(getattr(self, key), getattr(self, f"{key}_file"), key)
        if key == "webhook_url" and self.webhook_url_file:
            check_url(value, secret=True)  # read from the file: not checked by the field
        if not value:
            raise ValueError(
                f"{key} (or {key}_file) must be set and non-empty for a {self.type} receiver"
            )
        object.__setattr__(self, key, value)
        return self

    @property
    def secret(self) -> str:
        """The value that must never be shown (webhook URL or routing key)."""
        return self.webhook_url if self.type == "slack" else self.routing_key


class RouteMatch(_Frozen):
    """Exact matches on the alert's labels; an absent field matches anything."""

    service: str | None = None
    slo: str | None = None
    severity: Literal["page", "ticket"] | None = None


class Route(_Frozen):
    """Alertmanager-style route: first match wins unless ``continue`` is set."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    match: RouteMatch = RouteMatch()
    receivers: tuple[str, ...] = Field(min_length=1)
    group_wait_seconds: Annotated[float, Field(ge=0, le=3600)] = 0
    repeat_interval_minutes: Annotated[float, Field(gt=0)] = 240
    send_resolved: bool = True
    continue_: bool = Field(default=False, alias="continue")


class Notifications(BaseModel):
    """Receivers and routes; secrets arrive through ``${ENV_VAR}`` or files, never literally.

    The three flat fields are the short form: a ``slack`` and a ``pagerduty`` receiver, each
    disabled (said at start) when its secret is empty.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    slack_webhook_url: SecretUrl = ""
    pagerduty_routing_key: str = ""
    pagerduty_events_url: Url = "https://events.pagerduty.com/v2/enqueue"
    receivers: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9][\w.-]*$")], Receiver] = {}
    routes: tuple[Route, ...] = ()
    dashboard_url: str = ""  # link template: {slo}, {service}, {rule}
    runbook_url: str = ""
    summary_template: str = DEFAULT_SUMMARY
    deadline_seconds: Annotated[float, Field(gt=0, le=86400)] = 300
    attempt_timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 10
    # Alertmanager-style inhibition: while a page of an SLO fires, its tickets are held (and
    # delivered when the page resolves if they still fire); resolves are never held.
    inhibit_tickets_while_paging: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> Notifications:
        for short in ("slack", "pagerduty"):
            if short in self.receivers and (
                self.slack_webhook_url if short == "slack" else self.pagerduty_routing_key
            ):
                raise ValueError(f"receivers.{short}: defined twice (also by the short form)")
        names = set(self.receivers_by_name)
        for i, route in enumerate(self.routes):
            for name in route.receivers:
                if name not in names:
                    raise ValueError(
                        f"routes[{i}].receivers: unknown receiver {name!r}; known: {sorted(names)}"
                    )
        for attr in ("summary_template", "dashboard_url", "runbook_url"):
            _check_template(getattr(self, attr), attr)
        return self

    @cached_property
    def receivers_by_name(self) -> dict[str, Receiver]:
        """Declared receivers plus those of the short form whose secret is set (built once:
        routing asks for them on every alert)."""
        out = dict(self.receivers)
        if self.slack_webhook_url:
            out.setdefault("slack", Receiver(type="slack", webhook_url=self.slack_webhook_url))
        if self.pagerduty_routing_key:
            out.setdefault(
                "pagerduty",
                Receiver(
                    type="pagerduty",
                    routing_key=self.pagerduty_routing_key,
                    events_url=self.pagerduty_events_url,
                ),
            )
        return out


def _check_template(template: str, field: str) -> None:
    sample = {
        k: (1.0 if k in ("long_burn", "short_burn", "threshold", "budget_remaining") else "x")
        for k in SUMMARY_FIELDS
    }
    try:
        text = template.format_map(sample)
    except (KeyError, ValueError, IndexError, AttributeError, TypeError) as e:
        raise ValueError(
            f"{field}: bad placeholder {e}; expected any of {{{'}, {'.join(SUMMARY_FIELDS)}}}"
        ) from None
    if field.endswith("_url"):
        try:
            check_url(text)
        except ValueError as e:
            raise ValueError(f"{field}: {e}") from None


@dataclass(frozen=True)
class Config:
    """Everything the worker needs, merged from one or more files."""

    slos: tuple[SLO, ...]
    settings: Settings
    notifications: Notifications
    sources: tuple[str, ...]
    warnings: tuple[str, ...] = ()  # loadable but probably not what was meant

    def slo(self, slo_id: str) -> SLO | None:
        """The SLO with this id, or None."""
        return self._by_id.get(slo_id)

    def slos_of(self, service: str) -> tuple[SLO, ...]:
        """Every SLO measured on a service's outcomes (asked once per ingested outcome); a
        journey is measured on its members' judgments, never on outcomes of its own."""
        return self._by_service.get(service, ())

    def journeys_of(self, slo_id: str) -> tuple[tuple[str, int], ...]:
        """(journey id, weight) of every journey an SLO is a member of."""
        return self._journeys.get(slo_id, ())

    @cached_property
    def _journeys(self) -> dict[str, tuple[tuple[str, int], ...]]:
        out: dict[str, tuple[tuple[str, int], ...]] = {}
        for j in self.slos:
            for member, weight in j.members:
                out[member] = (*out.get(member, ()), (j.id, weight))
        return out

    @cached_property
    def _by_id(self) -> dict[str, SLO]:
        return {s.id: s for s in self.slos}

    @cached_property
    def _by_service(self) -> dict[str, tuple[SLO, ...]]:
        out: dict[str, tuple[SLO, ...]] = {}
        for s in self.slos:
            if not s.members:
                out[s.service] = (*out.get(s.service, ()), s)
        return out

    @property
    def slicing(self) -> dict[str, tuple[int, Fraction]]:
        """Timeslices SLOs: id -> (slice seconds, slice target), for the bucket store, which
        judges slices as it writes buckets."""
        return {
            s.id: (s.timeslice_s, s.timeslice_target)
            for s in self.slos
            if s.timeslice_s is not None and s.timeslice_target is not None
        }

    @property
    def services(self) -> tuple[str, ...]:
        """Known service names, sorted (journeys are not services: nothing deploys them)."""
        return tuple(sorted({s.service for s in self.slos if not s.members}))


# ---------------------------------------------------------------------------------------------
# File models: the two shapes users write. extra="forbid" turns typos into errors.


def _check_target(v: float) -> float:
    if not 0 < v < 1:
        raise ValueError("must be between 0 and 1 (exclusive)")
    return v


Target = Annotated[float, AfterValidator(_check_target)]
Minutes = Annotated[float, Field(gt=0)]


class _RuleFields(_Strict):
    """What both formats say about one alert rule (they differ only in the burn's name)."""

    window_minutes: Minutes
    short_window_minutes: Minutes | None = None
    severity: Severity | None = None
    resolve_after_minutes: Annotated[float, Field(ge=0)] = 0

    @property
    def burn(self) -> float:
        raise NotImplementedError

    @model_validator(mode="after")
    def _short_below_long(self) -> _RuleFields:
        if (
            self.short_window_minutes is not None
            and self.short_window_minutes > self.window_minutes
        ):
            raise ValueError(
                f"short_window_minutes ({self.short_window_minutes:g}) must not exceed "
                f"window_minutes ({self.window_minutes:g})"
            )
        return self


class SeedAlert(_RuleFields):
    threshold: Annotated[float, Field(gt=0)]

    @property
    def burn(self) -> float:
        return self.threshold


def _check_zone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone such as 'UTC' or 'Europe/Berlin'") from None
    return v


class _SloWindow(_Strict):
    """The SLO window: rolling ``window_days``, or a ``calendar`` month/week in ``timezone``;
    and how the budget is counted: ``occurrences`` (bad/total events, the default) or
    ``timeslices`` (bad slices of ``timeslice_window_seconds`` whose good ratio is below
    ``timeslice_target``)."""

    window_days: Annotated[int, Field(gt=0, le=366)] | None = None
    calendar: Calendar | None = None
    timezone: Annotated[str, AfterValidator(_check_zone)] = "UTC"
    budgeting_method: Literal["occurrences", "timeslices"] = "occurrences"
    timeslice_window_seconds: Annotated[int, Field(gt=0, le=900)] | None = None
    timeslice_target: Annotated[float, Field(gt=0, le=1)] | None = None
    # A `no_data` ticket when the SLO has had no event for this long (a silent producer or a
    # broken pipeline looks like a perfect SLO otherwise). Off unless set.
    no_data_minutes: Annotated[float, Field(gt=0, le=7 * 1440)] | None = None
    # Low-traffic guard (off unless set): see SLO.min_bad_events and SLO.burn_confidence.
    min_bad_events: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    burn_confidence: Annotated[float, Field(ge=0.5, lt=1)] | None = None

    def guard(self) -> dict[str, Any]:
        """The SLO fields of the low-traffic guard."""
        return {"min_bad_events": self.min_bad_events, "burn_confidence": self.burn_confidence}

    def no_data_rules(self, bucket_s: int) -> tuple[AlertRule, ...]:
        """The no-data ticket rule, when asked for."""
        if self.no_data_minutes is None:
            return ()
        w = _whole_buckets(Fraction(str(self.no_data_minutes)) * 60, bucket_s)
        return (AlertRule(NO_DATA_RULE, "ticket", w, w, Fraction(0), kind="no_data"),)

    @model_validator(mode="after")
    def _one_window(self) -> _SloWindow:
        if (self.window_days is None) == (self.calendar is None):
            raise ValueError(
                "expected exactly one of window_days (rolling) or calendar (month or week)"
            )
        sliced = self.timeslice_window_seconds is not None or self.timeslice_target is not None
        if self.budgeting_method == "timeslices":
            if self.timeslice_window_seconds is None or self.timeslice_target is None:
                raise ValueError(
                    "budgeting_method timeslices needs timeslice_window_seconds and "
                    "timeslice_target"
                )
            if 900 % self.timeslice_window_seconds:
                raise ValueError(
                    "timeslice_window_seconds must divide 900 (15 minutes), e.g. 60 or 300"
                )
        elif sliced:
            raise ValueError("timeslice_* fields need budgeting_method: timeslices")
        return self

    def timeslices(self) -> dict[str, Any]:
        """The SLO fields for the budgeting method."""
        if self.budgeting_method != "timeslices":
            return {}
        assert self.timeslice_target is not None
        return {
            "timeslice_s": self.timeslice_window_seconds,
            "timeslice_target": Fraction(str(self.timeslice_target)),
        }


class ServiceEntry(_SloWindow):
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


# Service names key tables ("name|...") and topics: no "|", no whitespace or control characters.
ServiceKey = Annotated[str, Field(pattern=r"^[^|\s\x00-\x1f]{1,200}$")]


class JourneyMember(_Strict):
    weight: Annotated[float, Field(gt=0, le=1e6)] = 1  # OpenSLO's compositeWeight


class JourneyEntry(_SloWindow):
    """A user journey across services: its own target and budget over its members' events."""

    target: Target
    members: Annotated[dict[str, JourneyMember], Field(min_length=1)]
    alerts: dict[str, SeedAlert] | None = None


class ServiceMapFile(_Strict):
    services: dict[ServiceKey, ServiceEntry] = {}
    journeys: dict[ServiceKey, JourneyEntry] = {}
    settings: Settings | None = None
    notifications: Notifications | None = None


class PolicySli(_Strict):
    metric: str | None = None
    le: Annotated[float, Field(gt=0)] | None = None  # seconds, as in a Prometheus histogram
    label: str | None = None
    success_values: list[Annotated[str, Field(pattern=r"^[1-5][0-9][0-9]$")]] | None = None


class PolicySlo(_SloWindow):
    target: Target


class PolicyBurnRate(_RuleFields):
    multiplier: Annotated[float, Field(gt=0)]

    @property
    def burn(self) -> float:
        return self.multiplier


class PolicyService(_Strict):
    name: ServiceKey
    sli: PolicySli
    slo: PolicySlo
    burn_rates: dict[str, PolicyBurnRate] | None = None
    enforcement: Enforcement = Enforcement()


class PolicyBody(_Strict):
    version: str | None = None
    evaluation_interval: str | None = None
    services: list[PolicyService]


class PolicyFile(_Strict):
    policy: PolicyBody
    settings: Settings | None = None
    notifications: Notifications | None = None


# ---------------------------------------------------------------------------------------------
# Mapping file shapes onto the internal model.


def _whole_buckets(seconds: Fraction, bucket_s: int) -> int:
    """Seconds rounded up to whole buckets (at least one)."""
    return max(1, math.ceil(seconds / bucket_s)) * bucket_s


def _rule(name: str, r: _RuleFields, bucket_s: int) -> AlertRule:
    """A file's rule as windows of whole buckets; the short window defaults to 1/12 of the long.

    Minutes are read as the decimals written (Fraction of their text), so 0.84 min is 50.4 s and
    rounds up to 60 s with 10-s buckets, never down through float error.
    """
    long_s = _whole_buckets(Fraction(str(r.window_minutes)) * 60, bucket_s)
    short = (
        Fraction(str(r.short_window_minutes)) * 60
        if r.short_window_minutes is not None
        else Fraction(long_s, 12)
    )
    return AlertRule(
        name=name,
        severity=r.severity or ("page" if r.burn >= PAGE_BURN_FLOOR else "ticket"),
        long_window_s=long_s,
        short_window_s=min(long_s, _whole_buckets(short, bucket_s)),
        burn=Fraction(str(r.burn)),
        resolve_after_s=math.ceil(Fraction(str(r.resolve_after_minutes)) * 60),
    )


def _rules(alerts: Mapping[str, _RuleFields] | None, bucket_s: int) -> tuple[AlertRule, ...]:
    return tuple(_rule(n, r, bucket_s) for n, r in alerts.items()) if alerts else workbook_rules()


def workbook_rules() -> tuple[AlertRule, ...]:
    """The default alert set when a service names none."""
    return tuple(
        AlertRule(name, sev, long_s, short_s, Fraction(str(burn)))
        for name, long_s, short_s, burn, sev in WORKBOOK_RULES
    )


def _service_map_slos(doc: ServiceMapFile, source: str, bucket_s: int) -> list[SLO]:
    return [
        SLO(
            id=f"{name}:{svc.sli_type}",
            service=name,
            sli_type=svc.sli_type,
            target=Fraction(str(svc.target)),
            window_days=svc.window_days,
            alerts=_rules(svc.alerts, bucket_s) + svc.no_data_rules(bucket_s),
            success_codes=frozenset(svc.success_codes) if svc.success_codes else None,
            latency_threshold_ms=svc.latency_threshold_ms,
            source=source,
            calendar=svc.calendar,
            timezone=svc.timezone,
            enforcement=svc.enforcement,
            **svc.timeslices(),
            **svc.guard(),
        )
        for name, svc in doc.services.items()
    ] + [
        SLO(
            id=f"{name}:{JOURNEY}",
            service=name,
            sli_type=JOURNEY,
            target=Fraction(str(j.target)),
            window_days=j.window_days,
            alerts=_rules(j.alerts, bucket_s) + j.no_data_rules(bucket_s),
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


def _policy_slos(doc: PolicyFile, source: str, bucket_s: int) -> list[SLO]:
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
                alerts=_rules(svc.burn_rates, bucket_s) + svc.slo.no_data_rules(bucket_s),
                success_codes=frozenset(int(c) for c in codes) if codes else None,
                # le is in seconds; exact decimal arithmetic so 2.01 s is 2010 ms, not 2009.99...
                latency_threshold_ms=float(Fraction(str(le)) * 1000) if le is not None else None,
                source=source,
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# Loading: YAML → env expansion → file model → internal model, every error made one line.

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand_env(node: Any, path: str, env: Mapping[str, str], errors: list[str]) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in string values; an unset VAR is an error."""
    if isinstance(node, dict):
        return {
            k: _expand_env(v, f"{path}.{k}" if path else str(k), env, errors)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_expand_env(v, f"{path}[{i}]", env, errors) for i, v in enumerate(node)]
    if not isinstance(node, str):
        return node

    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        errors.append(
            f"{path}: environment variable {name} must be set (referenced as ${{{name}}})"
        )
        return ""

    if "${" in _ENV_REF.sub("", node):  # a reference the pattern did not take
        errors.append(
            f"{path}: malformed ${{...}} reference in {_fmt_input(node)}; expected ${{NAME}} "
            "or ${NAME:-default} (NAME: letters, digits, _; closed by })"
        )
        return node
    return _ENV_REF.sub(sub, node)


def _fmt_loc(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _fmt_input(value: Any) -> str:
    return brief(value)


def _describe(err: Mapping[str, Any]) -> str:
    """One pydantic error as 'path: expectation, got value'."""
    loc = _fmt_loc(err["loc"])
    kind = err["type"]
    if kind == "missing":
        return f"{loc}: required field is missing"
    if kind == "extra_forbidden":
        return f"{loc}: unknown field (not part of the format; check the spelling)"
    msg = str(err["msg"])
    msg = msg.removeprefix("Value error, ")
    msg = msg.replace("Input should be", "expected")
    msg = msg[0].lower() + msg[1:]
    if isinstance(err.get("input"), dict) or ", got " in msg:  # the message says it all
        return f"{loc}: {msg}"
    return f"{loc}: {msg}, got {_fmt_input(err.get('input'))}"


def _read_yaml(path: Path) -> Any:
    try:
        raw, _ = safe_yaml.read_regular_file(path, safe_yaml.MAX_FILE_BYTES)
        text = raw.decode("utf-8")
    except OSError as e:
        raise ConfigError([f"{path}: cannot read file: {e.strerror or e}"]) from None
    except safe_yaml.FileRefused as e:
        raise ConfigError([f"{path}: cannot read file: {e}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: expected UTF-8 text"]) from None
    try:
        # Safe and bounded (streams.config.safe_yaml). Several documents only for OpenSLO files.
        docs = safe_yaml.load_all(text)
        return docs[0] if len(docs) == 1 else docs
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else "document"
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError([f"{path}: {where}: invalid YAML: {problem}"]) from None


def _from_openslo(path: Path, data: Any) -> tuple[dict[str, Any], list[str]]:
    try:
        policy, found = openslo.to_policy(data if isinstance(data, list) else [data])
    except openslo.OpenSloError as e:
        raise ConfigError([f"{path}: {line}" for line in e.lines]) from None
    return policy, [f"{path}: {w}" for w in found]


def openslo_policy(path: Path) -> tuple[dict[str, Any], list[str]]:
    """An OpenSLO file as a sloburn policy document, with the warnings about what it leaves
    out (``sloburn convert --to sloburn``); ConfigError if it cannot be converted."""
    return _from_openslo(path, _read_yaml(path))


def _parse_file(
    path: Path, env: Mapping[str, str]
) -> tuple[ServiceMapFile | PolicyFile, list[str]]:
    """The file's model and its warnings (what an OpenSLO file holds that sloburn ignores)."""
    data = _read_yaml(path)
    warnings: list[str] = []
    if openslo.is_openslo(data if isinstance(data, list) else [data]):
        data, warnings = _from_openslo(path, data)
    if not isinstance(data, dict) or not ({"services", "policy"} & data.keys()):
        raise ConfigError(
            [
                f"{path}: (top level): expected a mapping with 'services' (SLO service map) "
                f"or 'policy' (error-budget policy), got {_fmt_input(type(data).__name__)}"
            ]
        )
    env_errors: list[str] = []
    data = _expand_env(data, "", env, env_errors)
    model_cls: type[ServiceMapFile] | type[PolicyFile] = (
        PolicyFile if "policy" in data else ServiceMapFile
    )
    try:
        doc = model_cls.model_validate(data)
    except ValidationError as e:
        raise ConfigError(
            [f"{path}: {_describe(err)}" for err in e.errors()]
            + [f"{path}: {m}" for m in env_errors]
        ) from None
    if env_errors:
        raise ConfigError([f"{path}: {m}" for m in env_errors])
    return doc, warnings


class AlertPolicyFile(_Strict):
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
    data = _read_yaml(p)
    try:
        doc = AlertPolicyFile.model_validate(data)
    except ValidationError as e:
        raise ConfigError([f"{p}: {_describe(err)}" for err in e.errors()]) from None
    return AlertPolicy(doc.name or p.stem, _rules(doc.alerts, bucket_s))


def load_config(paths: Iterable[str | Path], env: Mapping[str, str] | None = None) -> Config:
    """Load and merge config files; raises ConfigError with every problem found, one per line.

    Files are parsed first and mapped after, so ``settings`` from any file (bucket size) shape
    the alert windows of every file.
    """
    env = os.environ if env is None else env
    errors: list[str] = []
    docs: list[tuple[str, ServiceMapFile | PolicyFile]] = []
    sources = [str(p) for p in paths]
    warnings: list[str] = []
    for source in sources:
        try:
            doc, noted = _parse_file(Path(source), env)
            docs.append((source, doc))
            warnings.extend(noted)
        except ConfigError as e:
            errors.extend(e.lines)
    if not sources:
        errors.append("(no config): expected at least one config file")
    settings = [(src, d.settings) for src, d in docs if d.settings is not None]
    notes = [(src, d.notifications) for src, d in docs if d.notifications is not None]
    for label, found in (("settings", settings), ("notifications", notes)):
        if len(found) > 1:
            errors.append(
                f"{found[1][0]}: {label}: expected in one file only, also in {found[0][0]}"
            )
    merged = settings[0][1] if settings else Settings()
    slos: list[SLO] = []
    for src, doc in docs:
        if isinstance(doc, PolicyFile):
            slos.extend(_policy_slos(doc, src, merged.bucket_seconds))
        else:
            slos.extend(_service_map_slos(doc, src, merged.bucket_seconds))
    for slo in slos:
        if slo.timeslice_s is not None and slo.timeslice_s % merged.bucket_seconds:
            errors.append(
                f"{slo.source}: {slo.service}: timeslice_window_seconds: must be a multiple of "
                f"settings.bucket_seconds ({merged.bucket_seconds}), got {slo.timeslice_s}"
            )
    for slo in slos:
        known = [r.name for r in slo.alerts] + list(WHEN_EVENTS)
        for name in slo.enforcement.notification.when:
            if name not in known:
                # Not an error: the seed's own document has this mismatch, and must load.
                warnings.append(
                    f"{slo.source}: {slo.service}: enforcement.notification.when: {name!r} names "
                    f"no burn rate of this SLO (any of {known}); it routes nothing"
                )
    by_id = {s.id: s for s in slos}
    services = {s.service for s in slos if not s.members}
    for j in slos:
        if j.members and j.service in services:
            errors.append(
                f"{j.source}: journeys.{j.service}: expected a name no service has; "
                f"{j.service!r} is also a service"
            )
        for member, _ in j.members:
            m = by_id.get(member)
            if m is None or m.members:
                errors.append(
                    f"{j.source}: journeys.{j.service}.members.{member}: expected the id of a "
                    f"service's SLO (one of {sorted(i for i, s in by_id.items() if not s.members)})"
                )
    seen: dict[str, str] = {}
    for slo in slos:
        if slo.id in seen:
            errors.append(
                f"{slo.source}: {slo.service}: SLO {slo.id!r} is defined twice "
                f"(also in {seen[slo.id]}); expected each service/SLI once"
            )
        seen[slo.id] = slo.source
    if errors:
        raise ConfigError(errors)
    if notes:
        src, n = notes[0]
        for name, r in n.receivers.items():
            for field_name in ("webhook_url_file", "routing_key_file"):
                path = getattr(r, field_name)
                warnings.extend(
                    f"{src}: notifications.receivers.{name}.{field_name}: {w}"
                    for w in (secret_file_warnings(path, os.geteuid()) if path else [])
                )
    return Config(
        slos=tuple(slos),
        settings=merged,
        notifications=notes[0][1] if notes else Notifications(),
        sources=tuple(sources),
        warnings=tuple(warnings),
    )
