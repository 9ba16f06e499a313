"""`sloburn rules`: valid Prometheus rules (promtool check) that alert when ours do (promtool
test rules on synthetic series)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from streams.config.loading import load_config
from streams.export.prometheus import MetricNames, prometheus_rules
from tests.conftest import sloburn

ROOT = Path(__file__).resolve().parents[2]
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (scripts/test installs Debian's prometheus)"
)


def rules_text(*configs: str) -> str:
    proc = sloburn("rules", *configs)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_every_slo_gets_its_windows_budget_and_one_alert_per_rule() -> None:
    cfg = load_config([ROOT / "configs" / "slo_config.yaml"], env={})
    doc = yaml.safe_load(prometheus_rules(cfg))
    names = [g["name"] for g in doc["groups"]]
    assert names == [
        "sloburn-slo-sli-recordings-checkout-api:success_rate",
        "sloburn-slo-alerts-checkout-api:success_rate",
        "sloburn-slo-sli-recordings-search-api:latency",
        "sloburn-slo-alerts-search-api:latency",
    ]
    checkout = doc["groups"][0]["rules"]
    assert [r["record"] for r in checkout] == [
        *(f"sloburn:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")),
        "sloburn:sli_error:ratio_rate30d",
        "sloburn:error_budget:ratio",
        "sloburn:error_budget_remaining:ratio",
    ]
    page = doc["groups"][1]["rules"][0]
    assert page["alert"] == "SloburnBurnRate_page_1h_5m"
    assert page["expr"] == (
        '(sloburn:sli_error:ratio_rate1h{sloburn_slo="checkout-api:success_rate"} > 0.0144)\n'
        'and\n(sloburn:sli_error:ratio_rate5m{sloburn_slo="checkout-api:success_rate"} > 0.0144)'
    )
    assert page["labels"]["severity"] == "page"


def test_latency_slo_counts_slow_or_failed_requests_from_the_histogram() -> None:
    cfg = load_config([ROOT / "configs" / "error-budget-policy.yaml"], env={})
    doc = yaml.safe_load(prometheus_rules(cfg, MetricNames(code_label="status_code")))
    expr = doc["groups"][0]["rules"][0]["expr"]
    assert expr == (
        '((sum(increase(http_request_duration_seconds_count{service="payment-gateway"}[5m]))) - '
        '(sum(increase(http_request_duration_seconds_bucket{service="payment-gateway",le="0.5",'
        'status_code=~"200|201"}[5m])))) / '
        '(sum(increase(http_request_duration_seconds_count{service="payment-gateway"}[5m])))'
    )


@needs_promtool
def test_promtool_accepts_the_rules_of_both_shipped_configs(tmp_path: Path) -> None:
    out = tmp_path / "rules.yaml"
    out.write_text(rules_text("configs/slo_config.yaml", "configs/error-budget-policy.yaml"))
    proc = subprocess.run(
        [PROMTOOL or "", "check", "rules", str(out)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 38 rules found" in proc.stdout


PAGE_ANNOTATIONS = {
    "summary": "checkout-api:success_rate is burning its error budget faster than 14.4x over "
    "1h and 5m",
    "description": "SLO target 0.999 over 30d; rule page_1h_5m (page).",
}


@needs_promtool
def test_prometheus_pages_on_a_total_outage_like_sloburn_does(tmp_path: Path) -> None:
    # 600 requests a minute, all good for 2 hours, then all failing. With 1-minute samples the
    # 1h window's error ratio passes 1.44 % once a 1-minute increase of failures is in it.
    rules = tmp_path / "rules.yaml"
    only_checkout = tmp_path / "checkout.yaml"
    only_checkout.write_text(
        "services:\n  checkout-api:\n    sli_type: success_rate\n    target: 0.999\n"
        "    window_days: 30\n"
    )
    rules.write_text(rules_text(str(only_checkout)))
    test = tmp_path / "test.yaml"
    test.write_text(
        yaml.safe_dump(
            {
                "rule_files": [str(rules)],
                "evaluation_interval": "1m",
                "tests": [
                    {
                        "interval": "1m",
                        "input_series": [
                            {
                                "series": 'http_requests_total{service="checkout-api",code="200"}',
                                "values": "0+600x120 72000x60",
                            },
                            {
                                "series": 'http_requests_total{service="checkout-api",code="500"}',
                                "values": "0x120 600+600x60",
                            },
                        ],
                        "alert_rule_test": [
                            {
                                "eval_time": "120m",
                                "alertname": "SloburnBurnRate_page_1h_5m",
                                "exp_alerts": [],
                            },
                            {
                                "eval_time": "125m",
                                "alertname": "SloburnBurnRate_page_1h_5m",
                                "exp_alerts": [
                                    {
                                        "exp_labels": {
                                            "sloburn_service": "checkout-api",
                                            "sloburn_slo": "checkout-api:success_rate",
                                            "sloburn_rule": "page_1h_5m",
                                            "severity": "page",
                                        },
                                        "exp_annotations": PAGE_ANNOTATIONS,
                                    }
                                ],
                            },
                        ],
                    }
                ],
            }
        )
    )
    proc = subprocess.run(
        [PROMTOOL or "", "test", "rules", str(test)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_promtool
def test_an_slo_of_some_operations_selects_their_method_and_route(tmp_path: Path) -> None:
    cfg_file = tmp_path / "ops.yaml"
    cfg_file.write_text(
        "services:\n  checkout-api:\n    sli_type: success_rate\n    target: 0.999\n"
        '    window_days: 30\n    operations: ["POST /pay", "/refund", \'say "hi"\']\n'
    )
    text = rules_text(str(cfg_file), "--route-label", "http_route", "--method-label", "verb")
    ratio = yaml.safe_load(text)["groups"][0]["rules"][0]["expr"]
    assert 'service="checkout-api",verb="POST",http_route="/pay",code=~"5.."' in ratio
    assert 'service="checkout-api",http_route="/refund",code=~"5.."' in ratio
    assert 'http_route="say \\"hi\\""' in ratio
    out = tmp_path / "rules.yaml"
    out.write_text(text)
    proc = subprocess.run(
        [PROMTOOL or "", "check", "rules", str(out)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
