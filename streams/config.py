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

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

SliType = Literal["success_rate", "latency"]
Severity = Literal["page", "ticket"]

# The SRE Workbook multi-window, multi-burn-rate set: (name, long window s, short window s,
# burn threshold, severity).
WORKBOOK_RULES: tuple[tuple[str, int, int, float, Severity], ...] = (
    ("page_1h_5m", 3600, 300, 14.4, "page"),
    ("page_6h_30m", 6 * 3600, 1800, 6.0, "page"),
    ("ticket_1d_2h", 86400, 7200, 3.0, "ticket"),
    ("ticket_3d_6h", 3 * 86400, 6 * 3600, 1.0, "ticket"),
)

# A seed-style rule names only one window; without an explicit severity, burns at or above this
# page (the Workbook pages at 14.4 and 6, and tickets at 3 and 1).
PAGE_BURN_FLOOR = 6.0


class ConfigError(Exception):
    """A configuration that cannot run; ``lines`` are user-facing, one problem each."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


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


@dataclass(frozen=True)
class SLO:
    """One objective of one service; ``target`` is a ratio in (0, 1), kept exact as a Fraction."""

    id: str
    service: str
    sli_type: SliType
    target: Fraction
    window_days: int
    alerts: tuple[AlertRule, ...]
    success_codes: frozenset[int] | None = None  # None: every status below 500 is a success
    latency_threshold_ms: float | None = None
    source: str = ""

    def is_success(self, status_code: int) -> bool:
        """Whether a response status counts as good for this SLO's SLI."""
        if self.success_codes is None:
            return status_code < 500
        return status_code in self.success_codes

    @property
    def windows_s(self) -> tuple[int, ...]:
        """Every distinct alert window this SLO evaluates, seconds, ascending."""
        return tuple(sorted({w for r in self.alerts for w in (r.long_window_s, r.short_window_s)}))


class Settings(BaseModel):
    """Engine tuning shared by every SLO (all durations in seconds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket_seconds: Annotated[int, Field(gt=0, le=3600)] = 10
    evaluation_interval_seconds: Annotated[float, Field(gt=0, le=3600)] = 1.0
    allowed_lateness_seconds: Annotated[int, Field(ge=0)] = 300
    max_future_seconds: Annotated[int, Field(ge=0)] = 300
    partitions: Annotated[int, Field(gt=0, le=256)] = 8

    @field_validator("bucket_seconds")
    @classmethod
    def _divides_hour(cls, v: int) -> int:
        if 3600 % v:
            raise ValueError("must divide 3600 evenly (e.g. 5, 10, 15, 30, 60)")
        return v


class Notifications(BaseModel):
    """Receivers; secrets arrive through ``${ENV_VAR}`` references, never literally."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slack_webhook_url: str = ""
    pagerduty_routing_key: str = ""
    pagerduty_events_url: str = "https://events.pagerduty.com/v2/enqueue"


@dataclass(frozen=True)
class Config:
    """Everything the worker needs, merged from one or more files."""

    slos: tuple[SLO, ...]
    settings: Settings
    notifications: Notifications
    sources: tuple[str, ...]

    def slo(self, slo_id: str) -> SLO | None:
        """The SLO with this id, or None."""
        return next((s for s in self.slos if s.id == slo_id), None)

    def slos_of(self, service: str) -> tuple[SLO, ...]:
        """Every SLO measured on a service's outcomes."""
        return tuple(s for s in self.slos if s.service == service)

    @property
    def services(self) -> tuple[str, ...]:
        """Known service names, sorted."""
        return tuple(sorted({s.service for s in self.slos}))


# ---------------------------------------------------------------------------------------------
# File models: the two shapes users write. extra="forbid" turns typos into errors.


def _check_target(v: float) -> float:
    if not 0 < v < 1:
        raise ValueError("must be between 0 and 1 (exclusive)")
    return v


Target = Annotated[float, AfterValidator(_check_target)]
Minutes = Annotated[float, Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeedAlert(_Strict):
    window_minutes: Minutes
    threshold: Annotated[float, Field(gt=0)]
    short_window_minutes: Minutes | None = None
    severity: Severity | None = None
    resolve_after_minutes: Annotated[float, Field(ge=0)] = 0


class ServiceEntry(_Strict):
    sli_type: SliType
    target: Target
    window_days: Annotated[int, Field(gt=0, le=366)]
    alerts: dict[str, SeedAlert] | None = None
    success_codes: list[int] | None = None
    latency_threshold_ms: Annotated[float, Field(gt=0)] | None = None


class ServiceMapFile(_Strict):
    services: dict[str, ServiceEntry]
    settings: Settings | None = None
    notifications: Notifications | None = None


class PolicySli(_Strict):
    metric: str | None = None
    le: Annotated[float, Field(gt=0)] | None = None  # seconds, as in a Prometheus histogram
    label: str | None = None
    success_values: list[str] | None = None


class PolicySlo(_Strict):
    target: Target
    window_days: Annotated[int, Field(gt=0, le=366)]


class PolicyBurnRate(_Strict):
    window_minutes: Minutes
    multiplier: Annotated[float, Field(gt=0)]
    short_window_minutes: Minutes | None = None
    severity: Severity | None = None
    resolve_after_minutes: Annotated[float, Field(ge=0)] = 0


class ReleaseGate(_Strict):
    threshold_pct: Annotated[float, Field(ge=0, le=100)] = 20
    action: Literal["block", "signoff", "freeze"] = "block"
    approval_override: bool = True


class FeatureFlag(_Strict):
    auto_rollback: bool = False
    burn_threshold: Annotated[float, Field(gt=0)] = 14.4


class PolicyNotification(_Strict):
    channels: list[Annotated[str, Field(pattern=r"^(slack|pagerduty):\S+$")]] = []
    when: list[str] = []


class Enforcement(_Strict):
    release_gate: ReleaseGate | None = None
    feature_flag: FeatureFlag | None = None
    notification: PolicyNotification | None = None


class PolicyService(_Strict):
    name: Annotated[str, Field(min_length=1)]
    sli: PolicySli
    slo: PolicySlo
    burn_rates: dict[str, PolicyBurnRate] | None = None
    enforcement: Enforcement | None = None


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


def _short_window_s(long_s: int, short_minutes: float | None, bucket_s: int) -> int:
    """The Workbook's short window is 1/12 of the long one; rounded up to whole buckets."""
    raw = short_minutes * 60 if short_minutes is not None else long_s / 12
    return max(bucket_s, -(-round(raw) // bucket_s) * bucket_s)


def _rule(
    name: str,
    window_minutes: float,
    burn: float,
    short_minutes: float | None,
    severity: Severity | None,
    resolve_after_minutes: float,
    bucket_s: int,
) -> AlertRule:
    long_s = -(-round(window_minutes * 60) // bucket_s) * bucket_s
    return AlertRule(
        name=name,
        severity=severity or ("page" if burn >= PAGE_BURN_FLOOR else "ticket"),
        long_window_s=long_s,
        short_window_s=_short_window_s(long_s, short_minutes, bucket_s),
        burn=Fraction(str(burn)),
        resolve_after_s=round(resolve_after_minutes * 60),
    )


def workbook_rules() -> tuple[AlertRule, ...]:
    """The default alert set when a service names none."""
    return tuple(
        AlertRule(name, sev, long_s, short_s, Fraction(str(burn)))
        for name, long_s, short_s, burn, sev in WORKBOOK_RULES
    )


def _service_map_slos(doc: ServiceMapFile, source: str, bucket_s: int) -> list[SLO]:
    out = []
    for name, svc in doc.services.items():
        rules = (
            tuple(
                _rule(
                    rn,
                    a.window_minutes,
                    a.threshold,
                    a.short_window_minutes,
                    a.severity,
                    a.resolve_after_minutes,
                    bucket_s,
                )
                for rn, a in svc.alerts.items()
            )
            if svc.alerts
            else workbook_rules()
        )
        out.append(
            SLO(
                id=f"{name}:{svc.sli_type}",
                service=name,
                sli_type=svc.sli_type,
                target=Fraction(str(svc.target)),
                window_days=svc.window_days,
                alerts=rules,
                success_codes=frozenset(svc.success_codes) if svc.success_codes else None,
                latency_threshold_ms=svc.latency_threshold_ms,
                source=source,
            )
        )
    return out


def _policy_slos(doc: PolicyFile, source: str, bucket_s: int) -> list[SLO]:
    out = []
    for svc in doc.policy.services:
        sli_type: SliType = "latency" if svc.sli.le is not None else "success_rate"
        rules = (
            tuple(
                _rule(
                    rn,
                    b.window_minutes,
                    b.multiplier,
                    b.short_window_minutes,
                    b.severity,
                    b.resolve_after_minutes,
                    bucket_s,
                )
                for rn, b in svc.burn_rates.items()
            )
            if svc.burn_rates
            else workbook_rules()
        )
        codes = svc.sli.success_values
        out.append(
            SLO(
                id=f"{svc.name}:{sli_type}",
                service=svc.name,
                sli_type=sli_type,
                target=Fraction(str(svc.slo.target)),
                window_days=svc.slo.window_days,
                alerts=rules,
                success_codes=frozenset(int(c) for c in codes) if codes else None,
                latency_threshold_ms=svc.sli.le * 1000 if svc.sli.le is not None else None,
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

    return _ENV_REF.sub(sub, node)


def _fmt_loc(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _fmt_input(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


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
    return f"{loc}: {msg[0].lower() + msg[1:]}, got {_fmt_input(err.get('input'))}"


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError([f"{path}: cannot read file: {e.strerror or e}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: expected UTF-8 text"]) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else "document"
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError([f"{path}: {where}: invalid YAML: {problem}"]) from None


def _parse_file(
    path: Path, env: Mapping[str, str]
) -> tuple[list[SLO], Settings | None, Notifications | None]:
    data = _read_yaml(path)
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
    bucket_s = (doc.settings or Settings()).bucket_seconds
    slos = (
        _policy_slos(doc, str(path), bucket_s)
        if isinstance(doc, PolicyFile)
        else _service_map_slos(doc, str(path), bucket_s)
    )
    return slos, doc.settings, doc.notifications


def load_config(paths: Iterable[str | Path], env: Mapping[str, str] | None = None) -> Config:
    """Load and merge config files; raises ConfigError with every problem found, one per line."""
    env = os.environ if env is None else env
    errors: list[str] = []
    slos: list[SLO] = []
    settings: list[tuple[str, Settings]] = []
    notes: list[tuple[str, Notifications]] = []
    sources = []
    for p in paths:
        path = Path(p)
        sources.append(str(path))
        try:
            file_slos, s, n = _parse_file(path, env)
        except ConfigError as e:
            errors.extend(e.lines)
            continue
        slos.extend(file_slos)
        if s is not None:
            settings.append((str(path), s))
        if n is not None:
            notes.append((str(path), n))
    if not sources:
        errors.append("(no config): expected at least one config file")
    seen: dict[str, str] = {}
    for slo in slos:
        if slo.id in seen:
            errors.append(
                f"{slo.source}: {slo.service}: SLO {slo.id!r} is defined twice "
                f"(also in {seen[slo.id]}); expected each service/SLI once"
            )
        seen[slo.id] = slo.source
    for label, found in (("settings", settings), ("notifications", notes)):
        if len(found) > 1:
            errors.append(
                f"{found[1][0]}: {label}: expected in one file only, also in {found[0][0]}"
            )
    if errors:
        raise ConfigError(errors)
    return Config(
        slos=tuple(slos),
        settings=settings[0][1] if settings else Settings(),
        notifications=notes[0][1] if notes else Notifications(),
        sources=tuple(sources),
    )
