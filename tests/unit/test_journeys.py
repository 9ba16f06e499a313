"""Composite SLOs (user journeys): a journey pages on its members' weighted events while no
member alone crosses its own thresholds."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.config.errors import ConfigError
from streams.config.loading import load_config
from streams.export.prometheus import prometheus_rules
from streams.replay.engine import InProcess, run

T0 = 1_793_491_200  # 2026-11-01T00:00:00Z
MEMBERS = ("cart-api", "payment-api", "order-api")
# Bad requests per minute of 600 during the incident hour: 2 %, 6 %, 1 %. Each is under
# 14.4x of its own 0.5 % budget (4x, 12x, 2x); weighted 1:2:1 they are 3.75 %, 37.5x of the
# journey's 0.1 % budget.
BAD_PER_MINUTE = {"cart-api": 12, "payment-api": 36, "order-api": 6}

CONFIG = """\
services:
{services}
journeys:
  checkout:
    target: 0.999
    window_days: 30
    members:
      cart-api:success_rate: {{weight: 0.5}}
      payment-api:success_rate: {{weight: 1}}
      order-api:success_rate: {{weight: 0.5}}
"""


def write_config(tmp_path: Path, text: str | None = None) -> Path:
    services = "".join(
        f"  {s}:\n    sli_type: success_rate\n    target: 0.995\n    window_days: 30\n"
        for s in MEMBERS
    )
    path = tmp_path / "journey.yaml"
    path.write_text(text or CONFIG.format(services=services), encoding="utf-8")
    return path


def traffic() -> list[bytes]:
    """Two healthy days, one bad hour, three healthy hours; 600 requests a minute each."""
    lines = []
    incident = range(T0 + 2 * 86400, T0 + 2 * 86400 + 3600)
    for ts in range(T0, T0 + 2 * 86400 + 4 * 3600, 60):
        for s in MEMBERS:
            bad = BAD_PER_MINUTE[s] if ts in incident else 0
            lines.append(orjson.dumps({"service": s, "ts": ts, "good": 600 - bad, "total": 600}))
    return lines


def test_the_journey_pages_on_weighted_member_events_that_page_no_member(tmp_path: Path) -> None:
    cfg = load_config([write_config(tmp_path)], env={})
    journey = cfg.slo("checkout:journey")
    assert journey is not None
    assert dict(journey.members) == {
        "cart-api:success_rate": 1,
        "payment-api:success_rate": 2,
        "order-api:success_rate": 1,
    }
    alerts: list[dict[str, Any]] = []
    rows: dict[tuple[float, int], dict[str, dict[str, Any]]] = defaultdict(dict)

    def sink(r: dict[str, Any]) -> None:
        alerts.extend(r["alerts"])
        for b in r["burn_rates"]:
            rows[(b["ts"], b["window_s"])][b["slo"]] = b

    run(traffic(), cfg, InProcess(cfg, now=2e9), 60, 2e9, sink)
    fired = {(a["slo"], a["rule"]) for a in alerts if a["state"] == "firing"}
    assert {slo for slo, _ in fired} == {"checkout:journey"}, fired  # no member alerted
    assert ("checkout:journey", "page_1h_5m") in fired
    # Exactly the members' counts, weighted: at every evaluation and window.
    checked = 0
    for (_, window), by_slo in rows.items():
        j = by_slo["checkout:journey"]
        m = [by_slo[f"{s}:success_rate"] for s in MEMBERS]
        assert j["bad"] == m[0]["bad"] + 2 * m[1]["bad"] + m[2]["bad"]
        assert j["total"] == m[0]["total"] + 2 * m[1]["total"] + m[2]["total"]
        if window == 3600 and j["total"]:
            checked += 1
            assert j["burn_rate"] == pytest.approx(j["bad"] / j["total"] / 0.001, rel=1e-12)
    assert checked > 1000
    peak = max(r["checkout:journey"]["burn_rate"] for (_, w), r in rows.items() if w == 3600)
    assert peak == pytest.approx(37.5, rel=1e-12)


def test_a_journey_member_must_be_a_services_slo(tmp_path: Path) -> None:
    text = CONFIG.format(
        services="  cart-api:\n    sli_type: success_rate\n    target: 0.995\n    window_days: 30\n"
    )
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config([path], env={})
    assert exc.value.lines[0].startswith(
        f"{path}: journeys.checkout.members.payment-api:success_rate: expected the id of a "
        "service's SLO (one of ['cart-api:success_rate'])"
    )


def test_a_journey_named_like_a_service_is_an_error(tmp_path: Path) -> None:
    text = (
        "services:\n  checkout:\n    sli_type: success_rate\n    target: 0.99\n"
        "    window_days: 30\njourneys:\n  checkout:\n    target: 0.99\n    window_days: 30\n"
        "    members: {checkout:success_rate: {}}\n"
    )
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config([path], env={})
    assert exc.value.lines == [
        f"{path}: journeys.checkout: expected a name no service has; 'checkout' is also a service"
    ]


def test_an_outcome_addressed_to_the_journey_name_is_an_unknown_service(tmp_path: Path) -> None:
    cfg = load_config([write_config(tmp_path)], env={})
    assert cfg.slos_of("checkout") == ()  # a journey counts its members' events only


def test_prometheus_rules_weight_the_members_like_sloburn_does(tmp_path: Path) -> None:
    cfg = load_config([write_config(tmp_path)], env={})
    text = prometheus_rules(cfg)
    assert '2 * (sum(increase(http_requests_total{service="payment-api",code=~"5.."}[1h])))' in (
        text
    )
