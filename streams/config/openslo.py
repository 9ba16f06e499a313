"""OpenSLO v1 documents to sloburn's policy document (the way back: streams.export.openslo).

An OpenSLO SLI names metric queries; in sloburn the metric source is the outcome event stream,
so the queries have nothing to run against: a ``ratioMetric`` (good/bad/total or raw) becomes
a success-rate SLO (each outcome judged good by ``ok`` or its status code), and a
``thresholdMetric`` with ``op: lte`` (or ``lt``) and ``value`` becomes a latency SLO on the
outcome's ``latency_ms`` (``value`` in milliseconds). ``spec.service`` is the events' ``service``.

Every field sloburn cannot honour is named in a warning (the loader prints them), never
dropped in silence; a field that would change what is measured if ignored (a quarter-long
window, RatioTimeslices, ``op: gte``) is an error instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

API_VERSION = "openslo/v1"
# OpenSLO has one lookback window per condition; sloburn's short window rides on an annotation
# (the spec's place for implementation data). Without it the short window is 1/12 of the long.
SHORT_WINDOW = "sloburn.dev/short-window"
_DURATION = re.compile(r"^([1-9][0-9]*)([mhdwMQY])$")
_MINUTES = {"m": 1, "h": 60, "d": 1440, "w": 10080}
_DESCRIPTIVE = ("displayName", "description", "labels", "annotations")
MIN_BAD = "sloburn.dev/min-bad-events"  # the low-traffic guard, on the SLO's annotations
CONFIDENCE = "sloburn.dev/burn-confidence"


class OpenSloError(ValueError):
    """Documents that cannot become a sloburn config; ``lines`` says where and why."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def is_openslo(docs: Iterable[Any]) -> bool:
    """Whether these YAML documents are OpenSLO objects."""
    return any(isinstance(d, dict) and d.get("apiVersion") == API_VERSION for d in docs)


def _minutes(value: Any, where: str, errors: list[str]) -> int | None:
    m = _DURATION.match(str(value))
    if m is None or m.group(2) not in _MINUTES:
        errors.append(f"{where}: expected a duration such as 5m, 1h, 28d or 4w, got {value!r}")
        return None
    return int(m.group(1)) * _MINUTES[m.group(2)]


def duration_text(minutes: float) -> str:
    """A duration shorthand for whole minutes (the largest unit that divides them)."""
    for unit in ("w", "d", "h"):
        if minutes % _MINUTES[unit] == 0:
            return f"{int(minutes // _MINUTES[unit])}{unit}"
    return f"{int(minutes)}m"


class _Reader:
    """Objects by kind and name, and what reading them found."""

    def __init__(self, docs: Iterable[Any]) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        for i, d in enumerate(docs):
            if d is None:
                continue
            meta = d.get("metadata") if isinstance(d, dict) else None
            name = meta.get("name") if isinstance(meta, dict) else None
            if not isinstance(d, dict) or d.get("apiVersion") != API_VERSION or not name:
                self.errors.append(
                    f"document {i + 1}: expected an {API_VERSION} object with kind and "
                    "metadata.name"
                )
                continue
            if not isinstance(d.get("spec") or {}, dict):
                self.errors.append(f"{d.get('kind')} {name}.spec: expected a mapping")
                continue
            self.objects[(str(d.get("kind")), str(name))] = d

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for (k, _), d in self.objects.items() if k == kind]

    def resolve(self, item: Any, kind: str, ref: str, where: str) -> dict[str, Any] | None:
        """An inline object (``kind`` or ``spec``) or the one its ``ref`` field names."""
        if not isinstance(item, dict):
            self.errors.append(f"{where}: expected a mapping")
            return None
        if ref in item:
            found = self.objects.get((kind, str(item[ref])))
            if found is None:
                self.errors.append(f"{where}.{ref}: no {kind} named {item[ref]!r} in the files")
            return found
        return item

    def unsupported(self, where: str, obj: Mapping[str, Any], fields: Iterable[str]) -> None:
        for f in fields:
            if f in obj and obj[f] not in (None, "", {}, []):
                self.warnings.append(f"{where}.{f}: not supported by sloburn, ignored")


def to_policy(docs: Iterable[Any]) -> tuple[dict[str, Any], list[str]]:
    """The sloburn policy document for OpenSLO objects, and the warnings about what it leaves
    out. Raises OpenSloError naming each object and field that cannot be converted."""
    r = _Reader(docs)
    why = {
        "DataSource": "outcome events are sloburn's data source",
        "AlertNotificationTarget": "notifications.receivers and routes say where alerts go",
    }
    for kind, reason in why.items():
        for d in r.of_kind(kind):
            r.warnings.append(f"{kind} {d['metadata']['name']}: not used ({reason})")
    for d in r.of_kind("Service"):
        where = f"Service {d['metadata']['name']}"
        r.unsupported(where, d["metadata"], _DESCRIPTIVE)
        r.unsupported(f"{where}.spec", d.get("spec") or {}, ("description",))
    services = [_service(r, d) for d in r.of_kind("SLO")]
    if not services and not r.errors:
        r.errors.append("(documents): expected at least one SLO object")
    if r.errors:
        raise OpenSloError(r.errors)
    return {"policy": {"services": [s for s in services if s is not None]}}, r.warnings


def _service(r: _Reader, slo: dict[str, Any]) -> dict[str, Any] | None:
    name = slo["metadata"]["name"]
    where = f"SLO {name}"
    spec = slo.get("spec") or {}
    r.unsupported(where, slo["metadata"], ("displayName", "description", "labels"))
    r.unsupported(f"{where}.spec", spec, ("description",))
    service = spec.get("service")
    if not service:
        r.errors.append(f"{where}.spec.service: required (the events' service name)")
        return None
    indicator = (
        r.resolve({"indicatorRef": spec["indicatorRef"]}, "SLI", "indicatorRef", f"{where}.spec")
        if "indicatorRef" in spec
        else spec.get("indicator")
    )
    objectives = spec.get("objectives") or []
    if not isinstance(indicator, dict) or not objectives:
        r.errors.append(f"{where}.spec: expected indicator or indicatorRef, and objectives")
        return None
    for i in range(1, len(objectives)):
        r.warnings.append(f"{where}.spec.objectives[{i}]: only the first objective is used")
    obj = objectives[0]
    r.unsupported(f"{where}.spec.objectives[0]", obj, ("displayName", "compositeWeight"))
    out: dict[str, Any] = {"name": service, "sli": {}, "slo": {}}
    if "target" in obj:
        out["slo"]["target"] = obj["target"]
    elif isinstance(obj.get("targetPercent"), int | float):
        out["slo"]["target"] = float(Fraction(str(obj["targetPercent"])) / 100)
    else:
        r.errors.append(f"{where}.spec.objectives[0]: expected target or targetPercent")
        return None
    notes = slo["metadata"].get("annotations") or {}
    for key, field in ((MIN_BAD, "min_bad_events"), (CONFIDENCE, "burn_confidence")):
        if key in notes:
            out["slo"][field] = notes[key]
    _indicator(r, where, indicator, obj, out)
    _window(r, where, spec, out["slo"])
    _budgeting(r, where, spec.get("budgetingMethod", "Occurrences"), obj, out["slo"])
    rules: dict[str, Any] = {}
    for i, item in enumerate(spec.get("alertPolicies") or []):
        policy = r.resolve(item, "AlertPolicy", "alertPolicyRef", f"{where}.alertPolicies[{i}]")
        if policy is not None:
            _alert_policy(r, f"{where}.alertPolicies[{i}]", policy, rules, out["slo"])
    if rules:
        out["burn_rates"] = rules
    return out


def _indicator(
    r: _Reader, where: str, ind: dict[str, Any], obj: dict[str, Any], out: dict[str, Any]
) -> None:
    sli = ind.get("spec") or {}
    w = f"{where}.indicator"
    r.unsupported(w, ind.get("metadata") or {}, _DESCRIPTIVE)
    if "ratioMetric" in sli:
        r.warnings.append(
            f"{w}.spec.ratioMetric: its queries are not run; sloburn judges each outcome event "
            "of the service (ok, or its status code) as good or bad"
        )
        return
    metric = sli.get("thresholdMetric")
    if metric is None:
        r.errors.append(f"{w}.spec: expected ratioMetric or thresholdMetric")
        return
    op, value = obj.get("op"), obj.get("value")
    if op not in ("lte", "lt") or not isinstance(value, int | float) or value <= 0:
        r.errors.append(
            f"{where}.spec.objectives[0]: expected op lte (or lt) and a positive value (the "
            f"latency threshold in ms) for a thresholdMetric, got op {op!r}, value {value!r}"
        )
        return
    if op == "lt":
        r.warnings.append(f"{where}.spec.objectives[0].op: lt is counted as lte (<=)")
    r.warnings.append(
        f"{w}.spec.thresholdMetric: its query is not run; sloburn compares each outcome's "
        "latency_ms with the objective's value"
    )
    out["sli"]["le"] = float(Fraction(str(value)) / 1000)  # the policy format's seconds


def _window(r: _Reader, where: str, spec: dict[str, Any], slo: dict[str, Any]) -> None:
    windows = spec.get("timeWindow")
    if not windows:
        r.warnings.append(f"{where}.spec.timeWindow: missing, a 30-day rolling window is used")
        slo["window_days"] = 30
        return
    w = windows[0]
    path = f"{where}.spec.timeWindow[0]"
    cal = w.get("calendar")
    if cal is None or w.get("isRolling") is True:
        minutes = _minutes(w.get("duration"), f"{path}.duration", r.errors)
        if minutes is not None and minutes % 1440:
            r.errors.append(f"{path}.duration: expected whole days or weeks, got {w['duration']}")
        elif minutes is not None:
            slo["window_days"] = minutes // 1440
        return
    period = {"1M": "month", "1w": "week"}.get(str(w.get("duration")))
    if period is None:
        r.errors.append(
            f"{path}.duration: expected 1M or 1w for a calendar window, got {w.get('duration')!r}"
        )
        return
    slo["calendar"] = period
    slo["timezone"] = cal.get("timeZone", "UTC")
    if cal.get("startTime"):
        r.warnings.append(
            f"{path}.calendar.startTime: ignored; periods start at local midnight on the 1st "
            "(month) or on Monday (week)"
        )


def _budgeting(
    r: _Reader, where: str, method: Any, obj: dict[str, Any], slo: dict[str, Any]
) -> None:
    if method == "Occurrences":
        return
    if method != "Timeslices":
        r.errors.append(
            f"{where}.spec.budgetingMethod: expected Occurrences or Timeslices, got {method!r}"
        )
        return
    window = obj.get("timeSliceWindow")
    minutes = (
        window
        if isinstance(window, int)
        else _minutes(window, f"{where}.spec.objectives[0].timeSliceWindow", r.errors)
    )
    slo["budgeting_method"] = "timeslices"
    slo["timeslice_target"] = obj.get("timeSliceTarget")
    if minutes is not None:
        slo["timeslice_window_seconds"] = minutes * 60


def _alert_policy(
    r: _Reader, where: str, policy: dict[str, Any], rules: dict[str, Any], slo: dict[str, Any]
) -> None:
    spec = policy.get("spec") or {}
    r.unsupported(where, policy.get("metadata") or {}, _DESCRIPTIVE)
    r.unsupported(f"{where}.spec", spec, ("description", "notificationTargets"))
    if spec.get("alertWhenResolved") is False:
        r.warnings.append(
            f"{where}.spec.alertWhenResolved: false is not honoured per SLO; set "
            "send_resolved on a notifications route"
        )
    conditions = spec.get("conditions") or []
    if len(conditions) != 1:
        r.errors.append(f"{where}.spec.conditions: expected exactly one condition")
        return
    cond = r.resolve(conditions[0], "AlertCondition", "conditionRef", f"{where}.conditions[0]")
    if cond is None:
        return
    cname = (cond.get("metadata") or {}).get("name")
    cspec = cond.get("spec") or {}
    c = cspec.get("condition") or {}
    path = f"{where}.conditions[0]"
    meta = cond.get("metadata") or {}
    r.unsupported(path, meta, ("displayName", "labels"))
    r.unsupported(f"{path}.spec", cspec, ("description",))
    lookback = _minutes(c.get("lookbackWindow"), f"{path}.condition.lookbackWindow", r.errors)
    if str(c.get("alertAfter", "0m")) not in ("0m", "0"):
        r.warnings.append(
            f"{path}.condition.alertAfter: not supported (sloburn confirms a burn with a short "
            "window instead), ignored"
        )
    if spec.get("alertWhenNoData") and lookback is not None:
        slo["no_data_minutes"] = lookback
    if spec.get("alertWhenBreaching", True) is False:
        return
    if c.get("kind", "burnrate") != "burnrate":
        r.errors.append(f"{path}.condition.kind: expected burnrate, got {c.get('kind')!r}")
        return
    if cspec.get("severity") not in ("page", "ticket"):
        r.errors.append(
            f"{path}.spec.severity: expected page or ticket, got {cspec.get('severity')!r}"
        )
        return
    if not cname or lookback is None:
        r.errors.append(f"{path}: expected metadata.name and condition.lookbackWindow")
        return
    rule: dict[str, Any] = {
        "window_minutes": lookback,
        "multiplier": c.get("threshold"),
        "severity": cspec["severity"],
    }
    short = (meta.get("annotations") or {}).get(SHORT_WINDOW)
    if short is not None:
        rule["short_window_minutes"] = _minutes(short, f"{path}.metadata.annotations", r.errors)
    rules[cname] = rule
