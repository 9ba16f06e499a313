"""sloburn SLOs as OpenSLO v1 objects (``sloburn convert --to openslo``): Service, SLI and SLO
with inline alert policies; the short window rides on an annotation."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from streams.config.openslo import API_VERSION, CONFIDENCE, MIN_BAD, SHORT_WINDOW, duration_text
from streams.core.alerts import NO_DATA_RULE
from streams.core.slo import SLO, AlertRule


def _object(kind: str, name: str, spec: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": name, **meta},
        "spec": spec,
    }


def _name(text: str) -> str:
    """An RFC 1123 label for an object name."""
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:63] or "slo"


def from_slos(slos: Iterable[SLO]) -> list[dict[str, Any]]:
    """OpenSLO objects (Service, SLI, SLO with inline alert policies) for sloburn SLOs.

    Journeys have no OpenSLO form here and are left out (the caller warns).
    """
    out: list[dict[str, Any]] = []
    services: set[str] = set()
    for slo in slos:
        if slo.members:
            continue
        if slo.service not in services:
            services.add(slo.service)
            out.append(_object("Service", _name(slo.service), {}))
        sli_name = _name(f"{slo.service}-{slo.sli_type}")
        objective: dict[str, Any] = {"target": float(slo.target)}
        if slo.sli_type == "latency":
            sli_spec: dict[str, Any] = {
                "thresholdMetric": {"metricSource": {"type": "sloburn", "spec": {}}}
            }
            objective |= {"op": "lte", "value": slo.latency_threshold_ms}
        else:
            source = {"metricSource": {"type": "sloburn", "spec": {}}}
            sli_spec = {"ratioMetric": {"counter": True, "good": source, "total": source}}
        out.append(_object("SLI", sli_name, sli_spec))
        spec: dict[str, Any] = {"service": slo.service, "indicatorRef": sli_name}
        if slo.calendar is not None:
            spec["timeWindow"] = [
                {
                    "duration": "1M" if slo.calendar == "month" else "1w",
                    "calendar": {"timeZone": slo.timezone},
                    "isRolling": False,
                }
            ]
        else:
            spec["timeWindow"] = [{"duration": f"{slo.window_days}d", "isRolling": True}]
        if slo.timeslice_s is not None and slo.timeslice_target is not None:
            spec["budgetingMethod"] = "Timeslices"
            objective |= {
                "timeSliceTarget": float(slo.timeslice_target),
                "timeSliceWindow": duration_text(math.ceil(slo.timeslice_s / 60)),
            }
        else:
            spec["budgetingMethod"] = "Occurrences"
        spec["objectives"] = [objective]
        spec["alertPolicies"] = [_policy_of(rule) for rule in slo.alerts]
        notes: dict[str, Any] = {}
        if slo.min_bad_events:
            notes[MIN_BAD] = slo.min_bad_events
        if slo.burn_confidence is not None:
            notes[CONFIDENCE] = slo.burn_confidence
        meta = {"annotations": notes} if notes else {}
        out.append(_object("SLO", _name(slo.id), spec, **meta))
    return out


def export_warnings(slos: Iterable[SLO]) -> list[str]:
    """What ``from_slos`` cannot carry into OpenSLO, per SLO."""
    out = []
    for slo in slos:
        if slo.members:
            out.append(f"{slo.id}: a journey has no OpenSLO form here; left out")
            continue
        if slo.success_codes:
            out.append(f"{slo.id}: success_codes has no OpenSLO form; left out")
        if slo.operations is not None or slo.span_kinds != {"server"}:
            out.append(f"{slo.id}: operations and span_kinds have no OpenSLO form; left out")
        if slo.enforcement != type(slo.enforcement)():
            out.append(f"{slo.id}: enforcement (release gate, notification) left out")
        windows = [r.long_window_s for r in slo.alerts] + [r.short_window_s for r in slo.alerts]
        if (slo.timeslice_s or 0) % 60 or any(w % 60 for w in windows):
            out.append(f"{slo.id}: a window under whole minutes is rounded up to minutes")
    return out


def _policy_of(rule: AlertRule) -> dict[str, Any]:
    no_data = rule.name == NO_DATA_RULE
    condition = {
        "kind": "burnrate",
        "threshold": float(rule.burn) if not no_data else 1.0,
        "lookbackWindow": duration_text(math.ceil(rule.long_window_s / 60)),
        "alertAfter": "0m",
    }
    meta: dict[str, Any] = {}
    if not no_data:
        meta["annotations"] = {SHORT_WINDOW: duration_text(math.ceil(rule.short_window_s / 60))}
    return {
        "kind": "AlertPolicy",
        "metadata": {"name": _name(rule.name)},
        "spec": {
            "alertWhenBreaching": not no_data,
            "alertWhenResolved": True,
            "alertWhenNoData": no_data,
            "conditions": [
                {
                    "kind": "AlertCondition",
                    "metadata": {"name": rule.name, **meta},
                    "spec": {"severity": rule.severity, "condition": condition},
                }
            ],
        },
    }
