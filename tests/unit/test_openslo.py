"""OpenSLO v1: the spec's README examples load, a round trip keeps every supported field, and
what sloburn cannot honour is named, never dropped in silence."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.config.errors import ConfigError
from streams.config.loading import load_config
from streams.export.openslo import from_slos
from tests.conftest import sloburn

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "fixtures" / "openslo" / "spec-examples.yaml"


def test_the_spec_readme_examples_load() -> None:
    cfg = load_config([SPEC], env={})
    ratio, latency = cfg.slo("foo:success_rate"), cfg.slo("foo:latency")
    assert ratio is not None and latency is not None
    assert (ratio.target, ratio.window_days, ratio.calendar) == (Fraction("0.98"), 30, None)
    assert (latency.calendar, latency.timezone) == ("month", "America/New_York")
    assert latency.latency_threshold_ms == 500
    assert (latency.timeslice_s, latency.timeslice_target) == (60, Fraction("0.95"))
    for slo in (ratio, latency):
        (rule,) = slo.alerts
        assert (rule.name, rule.severity, rule.burn) == ("cpu-usage-breach", "page", 2)
        assert (rule.long_window_s, rule.short_window_s) == (3600, 300)


@pytest.mark.parametrize(
    "named",
    [
        "DataSource datadog-datasource: not used",
        "AlertNotificationTarget OnCallDevopsSlackNotification: not used",
        "Service foo.displayName",
        "Service foo.spec.description",
        "SLO foo-slo.displayName",
        "SLO foo-slo.indicator.spec.ratioMetric: its queries are not run",
        "SLO foo-slo.spec.timeWindow: missing, a 30-day rolling window is used",
        "SLO foo-slo.alertPolicies[0].conditions[0].condition.alertAfter",
        "SLO foo-slo.alertPolicies[0].spec.alertWhenResolved",
        "SLO foo-slo.alertPolicies[0].spec.notificationTargets",
        "SLO foo-latency-slo.spec.timeWindow[0].calendar.startTime",
        "SLO foo-latency-slo.indicator.spec.thresholdMetric: its query is not run",
    ],
)
def test_each_unsupported_field_is_named_in_a_warning(named: str) -> None:
    warnings = load_config([SPEC], env={}).warnings
    assert any(f"{SPEC}: {named}" in w for w in warnings), warnings


def supported(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """What sloburn keeps of OpenSLO SLOs: per (service, kind of SLI) the target, the threshold
    objective, the window, the budgeting and each alert condition."""
    objects = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    out = {}
    for d in docs:
        if d["kind"] != "SLO":
            continue
        spec = d["spec"]
        ind = spec.get("indicator") or objects[("SLI", spec["indicatorRef"])]
        obj = spec["objectives"][0]
        window = (spec.get("timeWindow") or [{"duration": "30d", "isRolling": True}])[0]
        conditions = []
        for p in spec.get("alertPolicies", []):
            policy = objects[("AlertPolicy", p["alertPolicyRef"])] if "alertPolicyRef" in p else p
            c = policy["spec"]["conditions"][0]
            c = objects[("AlertCondition", c["conditionRef"])] if "conditionRef" in c else c
            cond = c["spec"]["condition"]
            conditions.append(
                (
                    c["metadata"]["name"],
                    c["spec"]["severity"],
                    float(cond["threshold"]),
                    cond["lookbackWindow"],
                    policy["spec"].get("alertWhenNoData", False),
                )
            )
        out[(spec["service"], "ratioMetric" in ind["spec"])] = {
            "target": obj.get("target"),
            "op_value": (obj.get("op"), obj.get("value")),
            "window": (window["duration"], (window.get("calendar") or {}).get("timeZone")),
            "budgeting": spec.get("budgetingMethod", "Occurrences"),
            "slices": (obj.get("timeSliceTarget"), obj.get("timeSliceWindow")),
            "conditions": sorted(conditions),
        }
    return out


def test_openslo_to_sloburn_to_openslo_keeps_every_supported_field(tmp_path: Path) -> None:
    original = [d for d in yaml.safe_load_all(SPEC.read_text()) if d]
    exported = from_slos(load_config([SPEC], env={}).slos)
    view = supported(original)
    view[("foo", True)]["window"] = ("30d", None)  # the default the warning names
    assert supported(exported) == view
    again = tmp_path / "again.yaml"
    again.write_text(yaml.safe_dump_all(exported, sort_keys=False))
    assert supported([d for d in yaml.safe_load_all(again.read_text()) if d]) == view
    first = load_config([SPEC], env={}).slos
    assert [s.__dict__ | {"source": ""} for s in load_config([again], env={}).slos] == [
        s.__dict__ | {"source": ""} for s in first
    ]


def convert(*args: str) -> subprocess.CompletedProcess[str]:
    return sloburn("convert", *args)


def test_sloburn_configs_convert_to_openslo_and_back_to_the_same_slos(tmp_path: Path) -> None:
    shipped = [ROOT / "configs" / "slo_config.yaml", ROOT / "examples" / "low-traffic.yaml"]
    out = convert("--to", "openslo", *map(str, shipped))
    assert out.returncode == 0, out.stderr
    path = tmp_path / "openslo.yaml"
    path.write_text(out.stdout)

    def measured(slos: Any) -> list[tuple[Any, ...]]:
        return [
            (s.id, s.target, s.window_days, s.calendar, s.latency_threshold_ms, s.alerts,
             s.min_bad_events)
            for s in slos
        ]  # fmt: skip

    assert measured(load_config([path], env={}).slos) == measured(load_config(shipped, env={}).slos)
    back = convert("--to", "sloburn", str(path))
    assert back.returncode == 0, back.stderr
    policy = tmp_path / "policy.yaml"
    policy.write_text(back.stdout)
    assert measured(load_config([policy], env={}).slos) == measured(
        load_config(shipped, env={}).slos
    )


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            ("duration: 1M", "duration: 1Q"),
            "SLO foo-latency-slo.spec.timeWindow[0].duration: expected 1M or 1w for a calendar "
            "window, got '1Q'",
        ),
        (
            ("budgetingMethod: Timeslices", "budgetingMethod: RatioTimeslices"),
            "SLO foo-latency-slo.spec.budgetingMethod: expected Occurrences or Timeslices, "
            "got 'RatioTimeslices'",
        ),
        (
            ("op: lte", "op: gte"),
            "SLO foo-latency-slo.spec.objectives[0]: expected op lte (or lt) and a positive "
            "value (the latency threshold in ms) for a thresholdMetric, got op 'gte', value 500",
        ),
        (
            ("indicatorRef: foo-latency", "indicatorRef: nope"),
            "SLO foo-latency-slo.spec.indicatorRef: no SLI named 'nope' in the files",
        ),
    ],
)
def test_what_would_change_the_measurement_is_an_error_naming_the_field(
    tmp_path: Path, change: tuple[str, str], error: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(SPEC.read_text().replace(*change))
    with pytest.raises(ConfigError) as exc:
        load_config([path], env={})
    assert f"{path}: {error}" in exc.value.lines


def test_what_openslo_cannot_carry_is_named_when_converting() -> None:
    out = convert("--to", "openslo", "configs/error-budget-policy.yaml")
    assert out.returncode == 0
    assert (
        "convert warning: payment-gateway:latency: success_codes has no OpenSLO form; left out"
        in out.stderr.splitlines()
    )
