"""``sloburn rules``: the configured SLOs and alert rules as Prometheus rules (as Sloth makes
them), so a team can cross-check sloburn's numbers in its own Prometheus.

Prometheus does not see our event stream, so the SLI is written over the request metrics the
services already export: a success-rate SLO over a request counter (errors: 5xx, or statuses
outside ``success_codes``), a latency SLO over a duration histogram (good: the ``le`` bucket of
successful requests). Metric and label names are options. Per SLO: error ratios over every
window the alert rules use and over the SLO window, the budget remaining, and one alert per
multi-window rule with the same thresholds and severities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from streams.config.model import Config
from streams.core.alerts import NO_DATA_RULE
from streams.core.durations import window_label
from streams.core.slo import SLO


@dataclass(frozen=True)
class MetricNames:
    """Where the SLIs live in Prometheus."""

    requests: str = "http_requests_total"
    duration: str = "http_request_duration_seconds"  # a histogram: _bucket, _count
    service_label: str = "service"
    code_label: str = "code"
    route_label: str = "route"  # for SLOs that cover some operations only
    method_label: str = "method"


def _codes(slo: SLO) -> str:
    return "|".join(str(c) for c in sorted(slo.success_codes or ()))


def _label(name: str, value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{name}="{escaped}"'


def _selectors(slo: SLO, names: MetricNames) -> list[str]:
    """The label selectors of the SLO's requests: the service's, or one per operation ("POST
    /pay" is a method and a route; anything else a route)."""
    svc = _label(names.service_label, slo.service)
    if slo.operations is None:
        return [svc]
    out = []
    for op in sorted(slo.operations):
        method, _, route = op.partition(" ")
        if route and method.isupper():
            out.append(
                f"{svc},{_label(names.method_label, method)},{_label(names.route_label, route)}"
            )
        else:
            out.append(f"{svc},{_label(names.route_label, op)}")
    return out


def _increase(metric: str, selectors: list[str], extra: str, window: str) -> str:
    return " + ".join(f"sum(increase({metric}{{{sel}{extra}}}[{window}]))" for sel in selectors)


def _bad_total(slo: SLO, names: MetricNames, window: str) -> tuple[str, str]:
    """(bad, total) over a window, from increases of the request metrics."""
    sels = _selectors(slo, names)
    code = names.code_label
    if slo.sli_type == "latency":
        assert slo.latency_threshold_ms is not None
        le = f"{slo.latency_threshold_ms / 1000:g}"
        ok = f',{code}=~"{_codes(slo)}"' if slo.success_codes else f',{code}!~"5.."'
        total = _increase(f"{names.duration}_count", sels, "", window)
        good = _increase(f"{names.duration}_bucket", sels, f',le="{le}"{ok}', window)
        return f"({total}) - ({good})", total
    bad_sel = f'{code}!~"{_codes(slo)}"' if slo.success_codes else f'{code}=~"5.."'
    bad = _increase(names.requests, sels, f",{bad_sel}", window)
    return bad, _increase(names.requests, sels, "", window)


def _ratio_expr(slo: SLO, cfg: Config, names: MetricNames, window: str) -> str:
    """bad / total over a window; for a journey, its members' weighted sums."""
    if not slo.members:
        bad, total = _bad_total(slo, names, window)
        return f"({bad}) / ({total})"
    parts = []
    for member, weight in slo.members:
        m = cfg.slo(member)
        assert m is not None  # load_config checked every member
        parts.append((weight, *_bad_total(m, names, window)))
    bad = " + ".join(f"{w} * ({b})" for w, b, _ in parts)
    total = " + ".join(f"{w} * ({t})" for w, _, t in parts)
    return f"({bad}) / ({total})"


def _no_data_alert(
    slo: SLO, cfg: Config, names: MetricNames, window_s: int, labels: dict[str, str]
) -> dict[str, Any]:
    """Ours fires when the window holds no event; Prometheus's when the requests did not
    increase, or (a plain SLO) when the series is absent."""
    w = window_label(window_s)
    members = [cfg.slo(m) for m, _ in slo.members] if slo.members else [slo]
    totals = [_bad_total(m, names, w)[1] for m in members if m is not None]
    expr = f"({' + '.join(totals)}) == 0"
    if not slo.members:
        svc = f'{names.service_label}="{slo.service}"'
        metric = f"{names.duration}_count" if slo.sli_type == "latency" else names.requests
        expr = f"({expr}) or absent({metric}{{{svc}}})"
    return {
        "alert": f"SloburnNoData_{slo.id}",
        "expr": expr,
        "labels": {**labels, "severity": "ticket", "sloburn_rule": NO_DATA_RULE},
        "annotations": {"summary": f"{slo.id} has received no events for {w}"},
    }


def _slo_window(slo: SLO) -> str:
    if slo.window_days is None:
        # Prometheus has no calendar ranges: approximate a month/week by its longest length.
        return "31d" if slo.calendar == "month" else "7d"
    return f"{slo.window_days}d"


def slo_groups(slo: SLO, cfg: Config, names: MetricNames) -> list[dict[str, Any]]:
    """The recording and alerting rule groups of one SLO."""
    labels = {"sloburn_service": slo.service, "sloburn_slo": slo.id}
    sel = f'sloburn_slo="{slo.id}"'
    budget_ratio = float(1 - slo.target)
    recording: list[dict[str, Any]] = []
    for w in slo.windows_s:
        recording.append(
            {
                "record": f"sloburn:sli_error:ratio_rate{window_label(w)}",
                "expr": _ratio_expr(slo, cfg, names, window_label(w)),
                "labels": labels,
            }
        )
    slo_window = _slo_window(slo)
    recording += [
        {
            "record": f"sloburn:sli_error:ratio_rate{slo_window}",
            "expr": _ratio_expr(slo, cfg, names, slo_window),
            "labels": labels,
        },
        {
            "record": "sloburn:error_budget:ratio",
            "expr": f"vector({budget_ratio:g})",
            "labels": labels,
        },
        {
            "record": "sloburn:error_budget_remaining:ratio",
            "expr": f"1 - (sloburn:sli_error:ratio_rate{slo_window}{{{sel}}} / {budget_ratio:g})",
            "labels": labels,
        },
    ]
    alerts = []
    for rule in slo.alerts:
        if rule.kind == "no_data":
            alerts.append(_no_data_alert(slo, cfg, names, rule.long_window_s, labels))
            continue
        threshold = float(rule.burn) * budget_ratio
        long_w, short_w = window_label(rule.long_window_s), window_label(rule.short_window_s)
        alerts.append(
            {
                "alert": f"SloburnBurnRate_{rule.name}",
                "expr": (
                    f"(sloburn:sli_error:ratio_rate{long_w}{{{sel}}} > {threshold:g})\n"
                    f"and\n(sloburn:sli_error:ratio_rate{short_w}{{{sel}}} > {threshold:g})"
                ),
                "labels": {**labels, "severity": rule.severity, "sloburn_rule": rule.name},
                "annotations": {
                    "summary": f"{slo.id} is burning its error budget faster than "
                    f"{float(rule.burn):g}x over {long_w} and {short_w}",
                    "description": f"SLO target {float(slo.target):g} over {slo.window_label}; "
                    f"rule {rule.name} ({rule.severity}).",
                },
            }
        )
    return [
        {"name": f"sloburn-slo-sli-recordings-{slo.id}", "rules": recording},
        {"name": f"sloburn-slo-alerts-{slo.id}", "rules": alerts},
    ]


def prometheus_rules(cfg: Config, names: MetricNames | None = None) -> str:
    """A Prometheus rule file for every SLO of the config, as YAML text."""
    names = names or MetricNames()
    groups = [g for slo in cfg.slos for g in slo_groups(slo, cfg, names)]
    header = (
        "# Generated by `sloburn rules` from "
        + ", ".join(cfg.sources)
        + ". Do not edit: regenerate.\n"
    )
    return header + yaml.dump({"groups": groups}, Dumper=_PlainDumper, sort_keys=False, width=100)


class _PlainDumper(yaml.SafeDumper):
    """No &anchors/*aliases for repeated label maps: people read and diff this file."""

    def ignore_aliases(self, data: Any) -> bool:
        return True
