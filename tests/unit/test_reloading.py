"""What a config reload may change, what it reports, and which firing rules it must resolve."""

from __future__ import annotations

from pathlib import Path

from streams.config.loading import load_config
from streams.config.model import Config
from streams.runtime.reload import blockers, changes, gone_rules

BASE = """
services:
  search-api:
    sli_type: latency
    target: 0.99
    window_days: 28
    latency_threshold_ms: 300
    alerts:
      fast_burn: {window_minutes: 60, threshold: 14.4}
      budget_drain: {window_minutes: 1440, threshold: 3, severity: ticket}
  cart-api: {sli_type: success_rate, target: 0.999, window_days: 30}
settings: {partitions: 4}
"""


def cfg(tmp_path: Path, text: str) -> Config:
    p = tmp_path / f"c{len(list(tmp_path.iterdir()))}.yaml"
    p.write_text(text)
    return load_config([p], env={})


def test_topic_and_table_shaping_settings_need_a_restart(tmp_path: Path) -> None:
    old = cfg(tmp_path, BASE)
    new = cfg(tmp_path, BASE.replace("partitions: 4", "partitions: 4, bucket_seconds: 30"))
    assert blockers(old, new) == [
        "settings.bucket_seconds: changed from 10 to 30; this needs a worker restart"
    ]
    assert blockers(old, cfg(tmp_path, BASE.replace("0.999", "0.995"))) == []


def test_changes_name_added_removed_and_changed_slos(tmp_path: Path) -> None:
    old = cfg(tmp_path, BASE)
    new = cfg(
        tmp_path,
        BASE.replace("cart-api", "pay-api").replace(
            "latency_threshold_ms: 300", "latency_threshold_ms: 250"
        ),
    )
    assert changes(old, new) == [
        "added pay-api:success_rate",
        "removed cart-api:success_rate",
        "changed search-api:latency",
    ]
    assert changes(old, old) == ["no change"]


def test_a_rule_is_gone_when_its_alert_identity_is(tmp_path: Path) -> None:
    old = cfg(tmp_path, BASE)
    # budget_drain turned into a page: its incidents carry another dedup key, so the ticket
    # must be resolved; fast_burn only got a new threshold and keeps its identity.
    new = cfg(
        tmp_path,
        BASE.replace("threshold: 3, severity: ticket", "threshold: 3, severity: page").replace(
            "14.4", "10"
        ),
    )
    assert gone_rules(old, new) == [("search-api:latency", "budget_drain")]
    dropped = cfg(
        tmp_path,
        BASE.replace("  cart-api: {sli_type: success_rate, target: 0.999, window_days: 30}\n", ""),
    )
    assert {r for _, r in gone_rules(old, dropped)} == {
        "page_1h_5m",
        "page_6h_30m",
        "ticket_1d_2h",
        "ticket_3d_6h",
    }
