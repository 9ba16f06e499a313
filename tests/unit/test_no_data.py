"""The no-data ticket: an SLO whose events stop is not a perfect SLO."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from streams.config.errors import ConfigError
from streams.config.loading import load_config
from streams.core.alerts import NO_DATA_RULE
from streams.export.prometheus import prometheus_rules
from streams.notify.slack import slack_message
from streams.state.buckets import BucketStore
from streams.state.evaluation import Evaluator
from streams.state.sli_record import SliRecord

T0 = 1_800_000_000


def config(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "slo.yaml"
    path.write_text(
        "services:\n  checkout-api:\n    sli_type: success_rate\n    target: 0.999\n"
        f"    window_days: 30\n{extra}",
        encoding="utf-8",
    )
    return path


def test_an_slo_without_events_for_its_no_data_window_tickets_and_resolves_when_they_return(
    tmp_path: Path,
) -> None:
    cfg = load_config([config(tmp_path, "    no_data_minutes: 30\n")], env={})
    (slo,) = cfg.slos
    rule = next(r for r in slo.alerts if r.name == NO_DATA_RULE)
    assert (rule.severity, rule.long_window_s, rule.kind) == ("ticket", 1800, "no_data")
    store = BucketStore({}, 10)
    ev = Evaluator(store, {}, 300)

    def traffic(offset: int, ts: int) -> None:
        store.apply([SliRecord(slo.id, [(offset, ts, 0, 10)], ts, "0")])

    traffic(1, T0)
    assert ev.evaluate(slo, T0 + 1790)[1] == []  # the last bucket is still in the window
    st, events = ev.evaluate(slo, T0 + 1800)
    assert [(e.rule, e.state) for e in events] == [(NO_DATA_RULE, "firing")]
    assert events[0].summary == "[TICKET] checkout-api:success_rate has received no events for 30m"
    assert [r.rule.name for r in st.rules if r.state.firing] == [NO_DATA_RULE]
    text = str(slack_message(events[0], events[0].summary))
    assert "No events for" in text and "0.0x" not in text
    assert ev.evaluate(slo, T0 + 3000)[1] == []  # fires once
    traffic(2, T0 + 3000)
    _, events = ev.evaluate(slo, T0 + 3000)
    assert [(e.rule, e.state) for e in events] == [(NO_DATA_RULE, "resolved")]
    assert events[0].summary == "[TICKET] checkout-api:success_rate receives events again"


def test_without_no_data_minutes_there_is_no_such_rule(tmp_path: Path) -> None:
    (slo,) = load_config([config(tmp_path, "")], env={}).slos
    assert NO_DATA_RULE not in [r.name for r in slo.alerts]


def test_a_rule_named_no_data_next_to_no_data_minutes_is_a_config_error(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        "    no_data_minutes: 30\n    alerts:\n      no_data: {window_minutes: 60, threshold: 2}\n",
    )
    with pytest.raises(ConfigError) as exc:
        load_config([path], env={})
    assert exc.value.lines == [
        f"{path}: services.checkout-api: alert rule name 'no_data' is taken by no_data_minutes"
    ]


def test_prometheus_rules_carry_an_absent_or_flat_alert_for_it(tmp_path: Path) -> None:
    cfg = load_config([config(tmp_path, "    no_data_minutes: 45\n")], env={})
    doc = yaml.safe_load(prometheus_rules(cfg))
    alerts = [r for g in doc["groups"] for r in g["rules"] if "alert" in r]
    (no_data,) = [a for a in alerts if a["labels"]["sloburn_rule"] == NO_DATA_RULE]
    assert no_data["expr"] == (
        '((sum(increase(http_requests_total{service="checkout-api"}[45m]))) == 0) '
        'or absent(http_requests_total{service="checkout-api"})'
    )
    assert no_data["labels"]["severity"] == "ticket"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_accepts_the_no_data_alert(tmp_path: Path) -> None:
    cfg = load_config([config(tmp_path, "    no_data_minutes: 45\n")], env={})
    out = tmp_path / "rules.yaml"
    out.write_text(prometheus_rules(cfg))
    proc = subprocess.run(
        ["promtool", "check", "rules", str(out)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
