"""The release gate end to end: budget state -> decision over HTTP and `sloburn gate`, audited
in sloburn.decisions; overrides; feature-flag rollback once per burn, across restarts."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer

from streams.kafka import topics
from streams.local.demo import send_scenario
from streams.local.embedded_broker import EmbeddedBroker, free_port
from tests.conftest import sloburn
from tests.e2e.conftest import Received, Worker, checkout_outage, read_records, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.brokers("embedded", "kafka")]

TOKEN = "tok-alice-0123456789"
SHOP = """
services:
  shop-api:
    sli_type: success_rate
    target: 0.99
    window_days: 30
    enforcement:
      release_gate:
        freeze_after_days: 1
settings:
  partitions: 4
  allowed_lateness_seconds: 2592000
"""
CHECKOUT = """
services:
  checkout-api:
    sli_type: success_rate
    target: 0.999
    window_days: 30
    enforcement:
      feature_flag:
        auto_rollback: true
        burn_threshold: 6
        webhook_url: ${FLAG_WEBHOOK_URL}
settings:
  partitions: 4
"""


def gate_cli(w: Worker, service: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return sloburn("gate", service, "--url", w.web, *extra)


def send(bootstrap: str, *events: dict) -> None:
    p = Producer({"bootstrap.servers": bootstrap})
    for ev in events:
        p.produce(topics.OUTCOMES, orjson.dumps(ev), key=ev["service"].encode())
    assert p.flush(30) == 0


async def read_topic(bootstrap: str, topic: str, settle_s: float = 3.0) -> list[dict]:
    return [orjson.loads(v) for _, v in await read_records(bootstrap, topic, settle_s)]


def post_override(w: Worker, service: str, body: dict, token: str | None) -> tuple[int, dict]:
    return w.post(f"/v1/gate/{service}/override", body, token)


def bad_to_reach(remaining: float) -> int:
    """Bad-only events to add to 100,000 good ones so a 99 % SLO has ~``remaining`` left."""
    return round(1000 * (1 - remaining) / (1 - 0.01 * (1 - remaining)))


def test_budget_drives_the_decision_down_the_matrix_to_freeze_and_each_change_is_audited(
    broker: EmbeddedBroker, receivers: Received, worker: Callable[..., Worker]
) -> None:
    w = worker(SHOP)
    start = time.time() - 3 * 86400  # the SLO's clock starts 3 days ago (event time)
    old = start - 20 * 86400  # bad counts land 20 days back: in the budget, out of alerts
    send(broker.bootstrap, {"service": "shop-api", "ts": start, "good": 100_000, "total": 100_000})
    added = 0
    steps = [
        (None, "allow", 0),
        (0.7, "allow_monitor", 0),
        (0.35, "signoff", 1),
        (0.1, "block", 1),
        (-0.2, "block", 1),
    ]
    for remaining, decision, code in steps:
        if remaining is not None:
            more = bad_to_reach(remaining) - added
            added += more
            send(broker.bootstrap, {"service": "shop-api", "ts": old, "good": 0, "total": more})
        wait_for(
            lambda d=decision, n=added: (
                (g := w.get("/v1/gate/shop-api"))["decision"] == d
                and g["budget_remaining"]
                and w.get("/v1/slos/shop-api:success_rate")["budget"]["bad"] == n
            ),
            30,
            f"decision {decision}",
        )
        cli = gate_cli(w, "shop-api")
        assert cli.returncode == code, (decision, cli.stdout, cli.stderr)
        assert cli.stdout.startswith(f"gate shop-api: {decision.upper()} ")
    gate = w.get("/v1/gate/shop-api")
    assert gate["exhausted_since"] is not None
    # Exhaustion held for a day of event time: one good event now moves the clock 3 days on.
    send(broker.bootstrap, {"service": "shop-api", "ts": time.time(), "good": 10, "total": 10})
    wait_for(lambda: w.get("/v1/gate/shop-api")["decision"] == "freeze", 30, "freeze")
    assert gate_cli(w, "shop-api").returncode == 1
    assert gate_cli(w, "shop-api", "--critical").returncode == 1  # never through a freeze
    v = w.get("/v1/gate/shop-api")
    assert any("budget exhausted for" in r for r in v["reasons"])
    assert v["policy_version"] == "default"

    audit = asyncio.run(read_topic(broker.bootstrap, topics.DECISIONS))
    changes = [(a["from"], a["to"]) for a in audit if a["kind"] == "decision"]
    assert changes == [
        (None, "allow"),
        ("allow", "allow_monitor"),
        ("allow_monitor", "signoff"),
        ("signoff", "block"),
        ("block", "freeze"),
    ]
    assert all(a["who"] and a["why"] and a["at"] for a in audit)


NEW_SERVICES = """
policy:
  version: "3.1"
  services:
    - name: strict-api
      sli: {}
      slo: {target: 0.99, window_days: 30}
      enforcement:
        release_gate: {on_no_data: block}
    - name: lenient-api
      sli: {}
      slo: {target: 0.99, window_days: 30}
settings:
  partitions: 4
"""


@pytest.mark.brokers("embedded")
def test_a_service_without_data_gets_no_data_its_policy_version_and_a_documented_exit(
    broker: EmbeddedBroker, worker: Callable[..., Worker]
) -> None:
    w = worker(NEW_SERVICES)
    strict, lenient = w.get("/v1/gate/strict-api"), w.get("/v1/gate/lenient-api")
    assert (strict["decision"], strict["proceed"]) == ("no_data", False)
    assert (lenient["decision"], lenient["proceed"]) == ("no_data", True)
    assert strict["policy_version"] == lenient["policy_version"] == "3.1"
    cli = gate_cli(w, "strict-api")
    assert cli.returncode == 3, (cli.stdout, cli.stderr)
    assert cli.stdout.startswith("gate strict-api: NO_DATA - strict-api:success_rate: not ")
    assert gate_cli(w, "lenient-api").returncode == 0
    send(broker.bootstrap, {"service": "strict-api", "ts": time.time(), "good": 10, "total": 10})
    wait_for(lambda: w.get("/v1/gate/strict-api")["decision"] == "allow", 30, "allow on data")
    assert gate_cli(w, "strict-api").returncode == 0


def test_override_needs_a_valid_token_shows_its_approver_and_lapses(
    broker: EmbeddedBroker, receivers: Received, worker: Callable[..., Worker]
) -> None:
    w = worker(SHOP, SLOBURN_API_TOKENS=f"alice:{TOKEN}", SLOBURN_LOG_FORMAT="json")
    start = time.time() - 3600
    send(
        broker.bootstrap,
        {"service": "shop-api", "ts": start, "good": 100_000, "total": 100_000},
        {"service": "shop-api", "ts": start - 20 * 86400, "good": 0, "total": 950},
    )
    wait_for(lambda: w.get("/v1/gate/shop-api")["decision"] == "block", 30, "block")
    body = {"reason": "hotfix for INC-42", "expires_in_seconds": 4}
    assert post_override(w, "shop-api", body, None)[0] == 401
    assert post_override(w, "shop-api", body, "wrong-token")[0] == 401
    assert w.get("/v1/gate/shop-api")["override"] is None  # nothing changed
    assert post_override(w, "nope", body, TOKEN)[0] == 404
    assert post_override(w, "shop-api", {"reason": "x"}, TOKEN)[0] == 400
    status, v = post_override(w, "shop-api", body, TOKEN)
    assert status == 201
    assert (v["decision"], v["underlying_decision"]) == ("allow_monitor", "block")
    assert v["override"]["approver"] == "alice"
    assert gate_cli(w, "shop-api").returncode == 0
    wait_for(lambda: w.get("/v1/gate/shop-api")["override"] is None, 15, "the override to lapse")
    assert w.get("/v1/gate/shop-api")["decision"] == "block"

    # From a shell: add, list and revoke, the token from the environment.
    env = {**os.environ, "SLOBURN_URL": w.web, "SLOBURN_TOKEN": TOKEN}
    added = sloburn("override", "add", "shop-api", "--reason", "INC-43", "--for", "1h", env=env)
    assert added.returncode == 0, added.stderr
    assert "ALLOW_MONITOR" in added.stdout and "override by alice until 20" in added.stdout
    listed = sloburn("override", "list", env=env)
    assert listed.stdout.startswith("shop-api  by alice until 20") and "INC-43" in listed.stdout
    one = w.get("/v1/gate/shop-api/override")["override"]
    assert (one["approver"], one["reason"]) == ("alice", "INC-43")
    assert w.delete("/v1/gate/shop-api/override")[0] == 401  # revoking needs a token too
    revoked = sloburn("override", "revoke", "shop-api", env=env)
    assert revoked.returncode == 0 and "BLOCK" in revoked.stdout, revoked.stderr
    assert w.get("/v1/gate/shop-api/override")["override"] is None
    assert sloburn("override", "revoke", "shop-api", env=env).returncode == 1  # none in force

    audit = asyncio.run(read_topic(broker.bootstrap, topics.DECISIONS))
    overrides = [(a["kind"], a["who"]) for a in audit if a["kind"].startswith("override")]
    assert overrides == [
        ("override", "alice"),
        ("override", "alice"),
        ("override_revoked", "alice"),
    ]
    assert [a["why"] for a in audit if a["kind"] == "override"] == ["hotfix for INC-42", "INC-43"]
    assert TOKEN not in json.dumps(audit)

    # sloburn status shows the budget the API has, and --json the API's own answer.
    slo = w.get("/v1/slos")["slos"][0]
    shown = sloburn("status", env=env)
    assert shown.returncode in (0, 1), shown.stderr
    row = next(line for line in shown.stdout.splitlines() if line.startswith(slo["id"]))
    assert f"{100 * slo['budget']['remaining']:.1f} %" in row
    as_json = json.loads(sloburn("status", "--json", "--url", w.web).stdout)
    assert [s["id"] for s in as_json] == [slo["id"]]

    # The worker logged JSON lines (SLOBURN_LOG_FORMAT=json): its own at info, Faust's
    # internals only from warning up, and no error on this normal run (none of its own on
    # Apache Kafka, whose client may report a transient it retries).
    lines = [json.loads(line) for line in w.log.read_text().splitlines() if line.strip()]
    assert any(r["logger"].startswith("streams.") and r["level"] == "info" for r in lines)
    engine = [r for r in lines if r["logger"].split(".")[0] in ("faust", "mode", "aiokafka")]
    assert all(r["level"] in ("warning", "error", "critical") for r in engine), engine[:3]
    errors = [r for r in lines if r["level"] in ("error", "critical")]
    if broker.kind != "embedded":
        errors = [r for r in errors if r["logger"].startswith("streams.")]
    assert errors == []


def test_fast_burn_calls_the_flag_webhook_once_also_across_a_restart(
    broker: EmbeddedBroker, receivers: Received, worker: Callable[..., Worker]
) -> None:
    w = worker(CHECKOUT)
    # 6h of healthy history, then a total outage still going on at the end: the 1h page fires
    # (burn far above 14.4x) and stays firing; the 6h page (6x and more, at or above the flag's
    # 6x) joins the same burn later and must not call the flag a second time.
    sc = checkout_outage(6 * 3600, 8 * 60, 180, 10 * 60)
    asyncio.run(send_scenario(broker.bootstrap, sc, pace_s=0.05))

    def calls() -> list[dict]:
        return [r["body"] for r in receivers.snapshot()["flag"]]

    wait_for(lambda: len(calls()) >= 1, 60, "the rollback call")
    assert w.get("/v1/gate/checkout-api")["decision"] == "rollback"
    w.stop()
    w2 = worker(CHECKOUT)
    wait_for(
        lambda: (
            "checkout-api:success_rate/page_6h_30m (page)"
            in w2.get("/v1/gate/checkout-api")["firing"]
        ),
        90,
        "the restarted worker to see the 6h page",
    )
    assert w2.get("/v1/gate/checkout-api")["decision"] == "rollback"
    time.sleep(5)  # a second call would come now
    assert len(calls()) == 1
    body = calls()[0]
    assert (body["action"], body["slo"], body["rule"]) == (
        "rollback",
        "checkout-api:success_rate",
        "page_1h_5m",
    )
    assert body["burn_rate"] >= 14.4 and len(body["idempotency_key"]) == 64
    assert w2.get("/v1/gate/checkout-api")["rollbacks"] == {"checkout-api:success_rate": "called"}
    audit = asyncio.run(read_topic(broker.bootstrap, topics.DECISIONS))
    assert [a["outcome"] for a in audit if a["kind"] == "rollback"] == ["called"]


def test_gate_against_a_stopped_worker_exits_2_within_its_timeout(repo_root: Path) -> None:
    started = time.monotonic()
    proc = sloburn("gate", "shop-api", "--url", f"http://127.0.0.1:{free_port()}", "--timeout", "3")
    assert proc.returncode == 2
    assert "cannot tell: worker at" in proc.stderr and "unreachable" in proc.stderr
    assert time.monotonic() - started < 15
