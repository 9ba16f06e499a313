"""Notification delivery end to end, against local servers that answer like Slack and PagerDuty
(their error bodies, Retry-After, PagerDuty's summary and size limits): retries, independence
of receivers, a dead Slack webhook, kill -9 between a 202 and the offset commit, silences."""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from streams.config.loading import load_config
from streams.core.alerts import DEFAULT_SUMMARY, dedup_key
from streams.core.exclusions import read_exclusions
from streams.kafka import topics
from streams.local.demo import send_scenario
from streams.local.embedded_broker import EmbeddedBroker
from streams.local.receivers import Failure
from streams.local.traffic import Scenario
from streams.replay.engine import InProcess, run
from tests.conftest import sloburn
from tests.e2e.conftest import Received, Worker, checkout_outage, read_records, wait_for

pytestmark = pytest.mark.e2e

SLO = "checkout-api:success_rate"
PAGE_KEY = dedup_key(SLO, "fast_burn", "page")


def config(
    summary_template: str = DEFAULT_SUMMARY, extra_settings: str = "", extra_rule: str = ""
) -> str:
    return f"""
services:
  checkout-api:
    sli_type: success_rate
    target: 0.999
    window_days: 30
    alerts:  # one page rule: one message per state change, so the scripted answers hit it
      fast_burn: {{window_minutes: 60, short_window_minutes: 5, threshold: 14.4}}
      {extra_rule}
settings:
  partitions: 4
{extra_settings}
notifications:
  receivers:
    oncall:
      type: pagerduty
      routing_key: ${{PAGERDUTY_ROUTING_KEY}}
      events_url: ${{PAGERDUTY_EVENTS_URL}}
    team-slack:
      type: slack
      webhook_url: ${{SLACK_WEBHOOK_URL}}
  routes:
    - match: {{severity: page}}
      receivers: [oncall, team-slack]
      repeat_interval_minutes: 0.05
    - match: {{severity: ticket}}
      receivers: [team-slack]
  summary_template: {orjson.dumps(summary_template).decode()}
"""


def outage(outage_s: int = 120, live_s: int = 15 * 60) -> Scenario:
    """6h healthy, then a total outage: the 1h/5m page fires, and resolves after it ends."""
    return checkout_outage(6 * 3600, live_s, 120, outage_s)


def in_background(sc: Scenario, bootstrap: str, pace_s: float) -> threading.Thread:
    t = threading.Thread(target=asyncio.run, args=(send_scenario(bootstrap, sc, pace_s),))
    t.start()
    return t


def accepted(rx: Received, receiver: str, **match: Any) -> list[dict[str, Any]]:
    """Accepted requests whose body has the given top-level values."""
    return [
        r for r in rx.snapshot()[receiver] if all(r["body"].get(k) == v for k, v in match.items())
    ]


def attempts(rx: Received, receiver: str) -> list[dict[str, Any]]:
    return rx.rt.call(lambda: [dict(a) for a in rx.rt.receivers.attempts[receiver]])


def slack_texts(rx: Received) -> list[tuple[float, str]]:
    return [(r["at"], r["body"]["text"]) for r in rx.snapshot()["slack"]]


def assert_no_secrets(w: Worker, broker: EmbeddedBroker, rx: Received) -> None:
    """No webhook URL or routing key in the worker's log or any dead-letter record."""
    env = rx.env()
    secrets = [env["SLACK_WEBHOOK_URL"], env["PAGERDUTY_ROUTING_KEY"]]
    dlq = asyncio.run(read_records(broker.bootstrap, topics.NOTIFICATIONS_DLQ, settle_s=1.0))
    texts = [w.log.read_text(), *(v.decode() for _, v in dlq)]
    assert [s for s in secrets for t in texts if s in t] == []


def test_retries_honour_retry_after_and_deliver_once_while_pagerduty_is_not_held_up(
    broker: EmbeddedBroker, receivers: Received, worker: Callable[..., Worker]
) -> None:
    long_summary = DEFAULT_SUMMARY + " Checkout is failing for customers." * 140  # ~5,000 chars
    assert len(long_summary) >= 5000
    w = worker(config(long_summary))
    receivers.rt.call(
        receivers.rt.receivers.fail_next,
        "slack",
        Failure(500),
        Failure(500),
        Failure(429, {"Retry-After": "2"}),
    )
    asyncio.run(send_scenario(broker.bootstrap, outage(), pace_s=0.1))
    wait_for(lambda: accepted(receivers, "pagerduty", event_action="resolve"), 90, "the resolve")
    time.sleep(3)  # anything sent twice would arrive now

    slack_tries = attempts(receivers, "slack")
    assert [a["status"] for a in slack_tries[:4]] == [500, 500, 429, 200]
    assert slack_tries[3]["at"] - slack_tries[2]["at"] >= 2.0  # Retry-After honoured
    firing = [t for _, t in slack_texts(receivers) if t.startswith("FIRING")]
    assert len(firing) == 1

    (trigger,) = accepted(receivers, "pagerduty", event_action="trigger")
    assert len(accepted(receivers, "pagerduty", event_action="resolve")) == 1
    # PagerDuty was not held up by Slack's retries: its page came before Slack's success.
    assert trigger["at"] < slack_tries[3]["at"]
    summary = trigger["body"]["payload"]["summary"]
    assert len(summary) == 1024 and summary.endswith("…")
    assert summary.startswith("[PAGE] checkout-api:success_rate burning error budget")
    assert w.metric("sloburn_notification_retries_total", receiver="team-slack") == 3
    assert_no_secrets(w, broker, receivers)


def test_a_dead_slack_webhook_goes_to_the_dlq_and_pagerduty_still_pages(
    broker: EmbeddedBroker, receivers: Received, worker: Callable[..., Worker]
) -> None:
    w = worker(config())
    receivers.rt.call(
        receivers.rt.receivers.fail_next, "slack", Failure(404, body="channel_not_found")
    )
    asyncio.run(send_scenario(broker.bootstrap, outage(), pace_s=0.1))
    wait_for(lambda: accepted(receivers, "pagerduty", event_action="trigger"), 60, "the page")
    refused = attempts(receivers, "slack")[0]
    (trigger,) = accepted(receivers, "pagerduty", event_action="trigger")
    assert abs(trigger["at"] - refused["at"]) < 5.0  # on time, whatever Slack said

    wait_for(
        lambda: w.metric("sloburn_receiver_misconfigured", receiver="team-slack") == 1,
        10,
        "the misconfiguration metric",
    )
    dlq = [
        orjson.loads(v)
        for _, v in asyncio.run(read_records(broker.bootstrap, topics.NOTIFICATIONS_DLQ))
    ]
    (record,) = [r for r in dlq if r.get("receiver") == "team-slack"]
    assert record["integration"] == "slack"
    assert record["status"] == 404
    assert record["response_body"] == "channel_not_found"
    assert "misconfigured" in record["reason"]
    assert record["attempts"] == 1
    assert record["first_attempt_at"] <= record["last_attempt_at"]
    assert record["alert"]["dedup_key"] == PAGE_KEY
    assert "misconfigured" in w.log.read_text()
    assert_no_secrets(w, broker, receivers)


async def committed_offset(bootstrap: str, partition: int) -> int | None:
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id="sloburn", enable_auto_commit=False)
    await c.start()
    try:
        return await c.committed(TopicPartition(topics.ALERTS, partition))
    finally:
        await c.stop()


@pytest.mark.brokers("embedded", "kafka")
def test_kill_9_after_the_page_was_accepted_sends_neither_trigger_nor_resolve_twice(
    broker: EmbeddedBroker, receivers: Received, worker: Callable[..., Worker]
) -> None:
    # Offsets are committed once a minute here, so the kill surely lands before the commit.
    cfg = config(extra_settings="  commit_interval_seconds: 60")
    w = worker(cfg)
    sender = in_background(outage(live_s=20 * 60), broker.bootstrap, pace_s=0.15)
    try:
        wait_for(lambda: accepted(receivers, "pagerduty", event_action="trigger"), 60, "the page")
        time.sleep(0.3)  # the notification log's changelog write is out; the commit is not
        w.kill9()
        alerts = asyncio.run(read_records(broker.bootstrap, topics.ALERTS, settle_s=1.0))
        assert alerts, "the firing event is on the alerts topic"
        partition = topics.partition_for_slo(SLO, 4)
        committed = asyncio.run(committed_offset(broker.bootstrap, partition))
        assert committed is None or committed == 0, "the firing event's offset was committed"

        w2 = worker(cfg)
        try:
            wait_for(
                lambda: accepted(receivers, "pagerduty", event_action="resolve"), 120, "resolve"
            )
        except BaseException:
            # This test failed twice on a loaded machine, cause unknown: say what w2 saw.
            for path in ("/v1/slos", "/healthz"):
                try:
                    print(f"w2 {path}:", w2.get(path))
                except Exception as e:  # a 503 says something too
                    print(f"w2 {path}: {e}")
            for name in ("sloburn_events_accepted_total", "sloburn_events_rejected_total"):
                print(name, w2.metric(name))
            raise
    finally:
        sender.join(120)
    time.sleep(3)
    assert len(accepted(receivers, "pagerduty", event_action="trigger")) == 1
    assert len(accepted(receivers, "pagerduty", event_action="resolve")) == 1
    # The restarted worker saw the firing event again and skipped it by the log.
    assert (
        w2.metric("sloburn_notifications_skipped_total", receiver="oncall", reason="already sent")
        == 1
    )


@pytest.mark.brokers("embedded", "kafka")
def test_a_silence_stops_repeats_but_not_the_resolve(
    broker: EmbeddedBroker, receivers: Received, worker: Callable[..., Worker]
) -> None:
    token = "tok-silence-8d7c6b5a"
    w = worker(config(), SLOBURN_API_TOKENS=f"oncall:{token}")
    # A 20-minute outage at 0.25 s per 10-s bucket: the page fires for ~40 s of wall time. The
    # traffic ends 10 minutes after the outage: twice what the 5-minute window needs to resolve.
    sender = in_background(outage(outage_s=1200, live_s=32 * 60), broker.bootstrap, pace_s=0.25)
    try:
        wait_for(lambda: accepted(receivers, "pagerduty", event_action="trigger"), 60, "the page")
        wait_for(
            lambda: any(t.startswith("STILL FIRING") for _, t in slack_texts(receivers)),
            20,
            "a repeat to Slack (repeat_interval 3 s)",
        )
        body = {"matchers": {"slo": SLO}, "duration_seconds": 3600, "comment": "known, fixing"}
        assert w.post("/v1/silences", body)[0] == 401
        # A start past what a date can hold is refused at the edge (it used to be stored,
        # answered 500, and break every later listing).
        hostile = {**body, "starts_at": 1e13}
        status, refused = w.post("/v1/silences", hostile, token)
        assert status == 400 and refused["error"].startswith("invalid silence: starts_at")
        status, silence = w.post("/v1/silences", body, token)
        assert status == 201 and silence["status"] == "active"
        silenced_at = time.time()
        assert [s["id"] for s in w.get("/v1/silences")["silences"]] == [silence["id"]]

        wait_for(lambda: accepted(receivers, "pagerduty", event_action="resolve"), 120, "resolve")
    finally:
        sender.join(120)
    time.sleep(3)
    repeats_during = [
        at
        for at, t in slack_texts(receivers)
        if t.startswith("STILL FIRING") and at > silenced_at + 2
    ]
    assert repeats_during == []
    assert len(accepted(receivers, "pagerduty", event_action="resolve")) == 1
    assert [t.split(":")[0] for _, t in slack_texts(receivers)][-1] == "RESOLVED"

    assert w.delete(f"/v1/silences/{silence['id']}", "tok-wrong")[0] == 401

    def cli(*args: str, token: str = "") -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "SLOBURN_TOKEN": token}
        return sloburn("silence", "--url", w.web, *args, timeout=30, env=env)

    listed = cli("list")
    assert listed.returncode == 0 and f"{silence['id']}  active" in listed.stdout
    assert cli("expire", silence["id"]).returncode == 1  # no token
    expired = cli("expire", silence["id"], token=token)
    assert expired.returncode == 0 and f"{silence['id']}  expired" in expired.stdout
    assert w.get("/v1/silences")["silences"][0]["status"] == "expired"
    decisions = asyncio.run(read_records(broker.bootstrap, topics.DECISIONS, settle_s=1.0))
    kinds = [orjson.loads(v)["kind"] for _, v in decisions]
    assert "silence" in kinds and "silence_expired" in kinds


def test_a_ticket_is_held_while_its_page_fires_and_delivered_once_the_page_resolves(
    broker: EmbeddedBroker, receivers: Received, worker: Callable[..., Worker]
) -> None:
    # 1d/2h at 4x: a ticket (under 6x). Over 6 h of history a 120-s outage takes the page
    # (1h/5m) at ~52 s into it and the ticket at ~86 s; the page resolves ~5 minutes after the
    # outage, while the ticket's 2h and 1d windows still burn over 4x for hours.
    w = worker(
        config(
            extra_rule="slow_burn: {window_minutes: 1440, short_window_minutes: 120, threshold: 4}"
        )
    )
    sender = in_background(outage(live_s=30 * 60), broker.bootstrap, pace_s=0.15)
    try:
        wait_for(
            lambda: accepted(receivers, "pagerduty", event_action="resolve"), 90, "page resolve"
        )
        resolved_at = accepted(receivers, "pagerduty", event_action="resolve")[0]["at"]
        wait_for(lambda: any("[TICKET]" in t for _, t in slack_texts(receivers)), 30, "the ticket")
    finally:
        sender.join(120)
    tickets = [(at, t) for at, t in slack_texts(receivers) if "[TICKET]" in t]
    assert len(tickets) == 1 and tickets[0][1].startswith("FIRING"), tickets
    assert tickets[0][0] > resolved_at  # held while the page fired
    pages = [t.split(":")[0] for _, t in slack_texts(receivers) if "[PAGE]" in t]
    assert pages[0] == "FIRING" and pages[-1] == "RESOLVED"
    assert (
        w.metric(
            "sloburn_notifications_skipped_total",
            receiver="team-slack",
            reason="inhibited by a firing page",
        )
        == 1
    )


@pytest.mark.brokers("embedded", "kafka")
def test_a_maintenance_window_added_after_the_fact_clears_its_page_and_a_replay_agrees(
    broker: EmbeddedBroker, receivers: Received, worker: Callable[..., Worker], tmp_path: Path
) -> None:
    token = "tok-maint-5e4d3c2b"
    cfg_text = config()
    w = worker(cfg_text, SLOBURN_API_TOKENS=f"oncall:{token}")
    # A 20-minute outage at 0.25 s per 10-s bucket: ~30 s of wall time; the page fires early and
    # the exclusion must resolve it long before the outage ends. Two minutes of traffic follow.
    sc = outage(outage_s=1200, live_s=24 * 60)
    sender = in_background(sc, broker.bootstrap, pace_s=0.25)
    try:
        wait_for(lambda: accepted(receivers, "pagerduty", event_action="trigger"), 60, "the page")
        body = {
            "kind": "maintenance",
            "matchers": {"slo": SLO},
            "starts_at": sc.outage_start,
            "ends_at": sc.outage_end,
            "comment": "planned failover, announced",
        }
        assert w.post("/v1/exclusions", body)[0] == 401
        status, made = w.post("/v1/exclusions", body, token)
        assert status == 201 and made["status"] == "active"
        posted_at = time.time()
        # Resolved by the exclusion while the outage's events are still arriving.
        wait_for(lambda: accepted(receivers, "pagerduty", event_action="resolve"), 15, "resolve")
        assert accepted(receivers, "pagerduty", event_action="resolve")[0]["at"] - posted_at < 15
    finally:
        sender.join(120)
    time.sleep(3)
    assert len(accepted(receivers, "pagerduty", event_action="trigger")) == 1
    (slo,) = w.get("/v1/slos")["slos"]
    worker_budget = (slo["budget"]["bad"], slo["budget"]["total"])
    assert worker_budget[0] < 10  # the history's rare errors, none of the outage's
    decisions = asyncio.run(read_records(broker.bootstrap, topics.DECISIONS, settle_s=1.0))
    audits = [orjson.loads(v) for _, v in decisions]
    (record,) = [a for a in audits if a["kind"] == "exclusion"]
    assert (record["id"], record["who"], record["slo"]) == (made["id"], "oncall", SLO)

    # The same events replayed in-process with the exclusion saved from the API.
    saved = tmp_path / "exclusions.json"
    saved.write_bytes(orjson.dumps(w.get("/v1/exclusions")))
    cfg_path = tmp_path / "replay.yaml"
    cfg_path.write_text(cfg_text)
    cfg = load_config([cfg_path], env=receivers.env())
    backend = InProcess(cfg, now=time.time())
    backend.evaluator.exclusions = read_exclusions(saved)
    lines = [*sc.history(), *(msg for _, msg in sc.live())]
    run(lines, cfg, backend, 60, time.time(), lambda rows: None)
    _, budget, _ = backend.evaluator.counts(cfg.slos[0], sc.end + 60)
    assert (budget.bad, budget.total) == worker_budget
