"""Delivery to Slack and PagerDuty: the decision table, the bounded retry loop against the real
local receivers (streams.local.receivers over HTTP on 127.0.0.1), and the bodies sent."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from streams.core.alerts import AlertEvent, dedup_key, group_key
from streams.local.embedded_broker import free_port
from streams.local.receivers import PAGERDUTY_PATH, SLACK_PATH, Receivers
from streams.notify.delivery import AttemptOutcome, deliver, judge_attempt
from streams.notify.pagerduty import SUMMARY_MAX, pagerduty_event
from streams.notify.slack import slack_message

SLO_ID = "checkout-api:success_rate"
DEDUP = "04014dd82768633b11e94dfb8149fdb9ff9a8c00b106e1172a75c9b7b74d8eb7"


def ceiling(attempt: int) -> float:
    return min(60.0, 0.5 * 1.5**attempt)


# ---------------------------------------------------------------------------------------------
# decide: what to do after one attempt


def test_slack_200_ok_is_delivered() -> None:
    assert judge_attempt("slack", 200, "ok", None, 0, 0.5) == AttemptOutcome("ok")


def test_slack_200_with_an_error_body_gives_up() -> None:
    assert judge_attempt("slack", 200, "invalid_payload", None, 0, 0.5) == AttemptOutcome(
        "give_up", reason="slack answered 200 with 'invalid_payload', expected 'ok'"
    )


def test_pagerduty_202_is_delivered() -> None:
    assert judge_attempt("pagerduty", 202, '{"status":"success"}', None, 3, 0.5) == AttemptOutcome(
        "ok"
    )


@pytest.mark.parametrize(
    ("retry_after", "delay"),
    [("7", 7.0), ("0.5", 1.0), ("0", 1.0), ("-3", 1.0), (None, 1.0), ("soon", 1.0), ("", 1.0)],
)
def test_slack_429_retries_after_retry_after_or_one_second(
    retry_after: str | None, delay: float
) -> None:
    assert judge_attempt("slack", 429, "rate_limited", retry_after, 4, 0.9) == AttemptOutcome(
        "retry", delay, "slack rate limited"
    )


@pytest.mark.parametrize(
    ("attempt", "delay"), [(0, 30.0), (1, 60.0), (2, 120.0), (3, 240.0), (4, 300.0), (5, 300.0)]
)
def test_pagerduty_429_without_retry_after_backs_off_from_30s_doubling_up_to_300s(
    attempt: int, delay: float
) -> None:
    assert judge_attempt("pagerduty", 429, "", None, attempt, 0.9) == AttemptOutcome(
        "retry", delay, "pagerduty rate limited"
    )


@pytest.mark.parametrize(
    ("retry_after", "delay"),
    [("1", 1.0), ("7", 7.0), ("0", 1.0), ("45", 45.0), ("900", 300.0), ("soon", 30.0)],
)
def test_pagerduty_429_honours_a_retry_after_shorter_than_the_30s_floor(
    retry_after: str, delay: float
) -> None:
    assert judge_attempt("pagerduty", 429, "", retry_after, 0, 0.9) == AttemptOutcome(
        "retry", delay, "pagerduty rate limited"
    )


@pytest.mark.parametrize(
    ("attempt", "jitter", "delay"),
    [
        (0, 0.0, 0.25),  # ceiling 0.5
        (1, 0.0, 0.375),  # ceiling 0.75
        (2, 0.0, 0.5625),  # ceiling 1.125
        (0, 0.5, 0.375),
        (2, 0.5, 0.84375),
        (11, 0.0, 0.25 * 1.5**11),  # ceiling 43.25, still below the cap
        (12, 0.0, 30.0),  # ceiling capped at 60
        (100, 0.0, 30.0),
        (100, 0.5, 45.0),
    ],
)
@pytest.mark.parametrize("status", [500, 502, 503, None])
def test_server_errors_and_timeouts_retry_with_jittered_exponential_backoff(
    status: int | None, attempt: int, jitter: float, delay: float
) -> None:
    d = judge_attempt("pagerduty", status, "", None, attempt, jitter)
    assert (d.kind, d.delay_s) == ("retry", delay)


def test_retry_reason_names_the_receiver_and_what_happened() -> None:
    assert judge_attempt("slack", 503, "", None, 0, 0.0).reason == "slack: HTTP 503"
    assert judge_attempt("pagerduty", None, "", None, 0, 0.0).reason == "pagerduty: no response"


@given(
    receiver=st.sampled_from(["slack", "pagerduty"]),
    status=st.sampled_from([None, 500, 502, 503, 504, 599]),
    attempt=st.integers(min_value=0, max_value=200),
    jitter=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
)
def test_retry_delay_lies_between_half_the_ceiling_and_the_ceiling(
    receiver: Any, status: int | None, attempt: int, jitter: float
) -> None:
    d = judge_attempt(receiver, status, "", None, attempt, jitter)
    assert d.kind == "retry"
    assert ceiling(attempt) / 2 <= d.delay_s <= ceiling(attempt) <= 60.0


@pytest.mark.parametrize(
    ("receiver", "status"),
    [("slack", 400), ("slack", 401)] + [("pagerduty", s) for s in (400, 401, 403, 404, 410)],
)
def test_client_errors_give_up_with_the_status_in_the_reason(receiver: Any, status: int) -> None:
    d = judge_attempt(receiver, status, "no", None, 0, 0.5)
    assert d == AttemptOutcome(
        "give_up", reason=f"{receiver} rejected the request: HTTP {status} 'no'"
    )


@pytest.mark.parametrize("status", [403, 404, 410])
def test_a_dead_slack_webhook_gives_up_and_says_it_is_misconfigured(status: int) -> None:
    d = judge_attempt("slack", status, "channel_not_found", None, 0, 0.5)
    assert d == AttemptOutcome(
        "give_up",
        reason=f"slack webhook misconfigured: HTTP {status} 'channel_not_found'",
        misconfigured=True,
    )


def test_retry_delay_is_capped_for_any_attempt_number() -> None:
    assert judge_attempt("slack", 503, "", None, 2000, 0.0) == AttemptOutcome(
        "retry", 30.0, "slack: HTTP 503"
    )


# ---------------------------------------------------------------------------------------------
# deliver: the retry loop against real local receivers


class NoJitter(random.Random):
    def random(self) -> float:
        return 0.0


class Sleeps:
    """A sleep that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
async def receivers() -> AsyncIterator[Receivers]:
    r = await Receivers().start()
    yield r
    await r.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


SLACK_BODY: dict[str, object] = {"text": "FIRING: test"}


async def test_slack_delivery_retries_a_503_and_a_429_then_succeeds(
    receivers: Receivers, session: aiohttp.ClientSession
) -> None:
    receivers.fail_next("slack", 503, 429)
    sleeps, retries = Sleeps(), list[AttemptOutcome]()
    outcome = await deliver(
        session,
        "slack",
        f"http://127.0.0.1:{receivers.port}{SLACK_PATH}",
        SLACK_BODY,
        on_retry=retries.append,
        sleep=sleeps,
        rng=NoJitter(),
    )
    assert (outcome.delivered, outcome.attempts, outcome.status) == (True, 3, 200)
    assert sleeps.delays == [0.25, 1.0]  # half the 0.5-s ceiling, then Slack's default 1 s
    assert [d.reason for d in retries] == ["slack: HTTP 503", "slack rate limited"]
    assert [r["body"] for r in receivers.received["slack"]] == [SLACK_BODY]


async def test_pagerduty_delivery_posts_the_event_once(
    receivers: Receivers, session: aiohttp.ClientSession
) -> None:
    body = pagerduty_event(alert(), "routing-key-1")
    sleeps = Sleeps()
    outcome = await deliver(
        session,
        "pagerduty",
        f"http://127.0.0.1:{receivers.port}{PAGERDUTY_PATH}",
        body,
        sleep=sleeps,
    )
    assert (outcome.delivered, outcome.attempts, outcome.status) == (True, 1, 202)
    assert sleeps.delays == []
    assert [r["body"] for r in receivers.received["pagerduty"]] == [body]


async def test_a_400_gives_up_after_one_attempt(
    receivers: Receivers, session: aiohttp.ClientSession
) -> None:
    sleeps = Sleeps()
    # The local PagerDuty answers 400 to an event without a routing key, as the real one does.
    outcome = await deliver(
        session,
        "pagerduty",
        f"http://127.0.0.1:{receivers.port}{PAGERDUTY_PATH}",
        pagerduty_event(alert(), ""),
        sleep=sleeps,
    )
    assert (outcome.delivered, outcome.attempts, outcome.status) == (False, 1, 400)
    assert outcome.reason.startswith(
        """pagerduty rejected the request: HTTP 400 '{"status": "invalid event"""
    )
    assert "'routing_key' is missing or blank" in outcome.body
    assert outcome.first_at <= outcome.last_at
    assert sleeps.delays == []
    assert receivers.received["pagerduty"] == []


async def test_the_deadline_bounds_the_total_wait(
    receivers: Receivers, session: aiohttp.ClientSession
) -> None:
    receivers.fail_next("pagerduty", 429, 429, 429, 429)
    sleeps = Sleeps()
    outcome = await deliver(
        session,
        "pagerduty",
        f"http://127.0.0.1:{receivers.port}{PAGERDUTY_PATH}",
        pagerduty_event(alert(), "routing-key-1"),
        deadline_s=100.0,
        sleep=sleeps,
    )
    # 30 s + 60 s waited; the next 120 s would pass 100 s.
    assert sleeps.delays == [30.0, 60.0]
    assert (outcome.delivered, outcome.attempts, outcome.status) == (False, 3, 429)
    assert outcome.reason == "deadline passed after 3 attempts: pagerduty rate limited"
    assert receivers.received["pagerduty"] == []


async def test_connection_refused_retries_then_gives_up(session: aiohttp.ClientSession) -> None:
    sleeps = Sleeps()
    outcome = await deliver(
        session,
        "slack",
        f"http://127.0.0.1:{free_port()}{SLACK_PATH}",
        SLACK_BODY,
        deadline_s=2.0,
        sleep=sleeps,
        rng=NoJitter(),
    )
    # 0.25 + 0.375 + 0.5625 = 1.1875 s waited; the next 0.84375 s would pass 2 s.
    assert sleeps.delays == [0.25, 0.375, 0.5625]
    assert (outcome.delivered, outcome.attempts, outcome.status) == (False, 4, None)
    assert outcome.reason == "deadline passed after 4 attempts: slack: no response"


async def test_slack_429_with_retry_after_zero_still_gives_up(
    session: aiohttp.ClientSession,
) -> None:
    attempts = 0

    async def always_limited(request: web.Request) -> web.Response:
        nonlocal attempts
        attempts += 1
        return web.Response(status=429, text="rate_limited", headers={"Retry-After": "0"})

    app = web.Application()
    app.router.add_post(SLACK_PATH, always_limited)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        outcome = await asyncio.wait_for(
            deliver(
                session,
                "slack",
                f"http://127.0.0.1:{port}{SLACK_PATH}",
                SLACK_BODY,
                deadline_s=5.0,
                sleep=Sleeps(),
            ),
            timeout=1.0,
        )
    except TimeoutError:
        pytest.fail(f"still retrying after 1 s and {attempts} attempts")
    finally:
        await runner.cleanup()
    assert not outcome.delivered


# ---------------------------------------------------------------------------------------------
# The bodies: PagerDuty Events v2 and Slack


def alert(**changes: Any) -> AlertEvent:
    fields: dict[str, Any] = {
        "id": "a1",
        "slo": SLO_ID,
        "service": "checkout-api",
        "rule": "page_1h_5m",
        "severity": "page",
        "state": "firing",
        "long_window_s": 3600,
        "short_window_s": 300,
        "long_burn_rate": 15.0,
        "short_burn_rate": 20.0,
        "threshold": 14.4,
        "budget_remaining": 0.5,
        "ts": 1_795_514_400.0,
        "dedup_key": DEDUP,
    }
    return AlertEvent(**(fields | changes))


SUMMARY = (
    "[PAGE] checkout-api:success_rate burning error budget: 15.0x over 1h, 20.0x over 5m "
    "(threshold 14.4x); budget remaining 50.0%"
)


def test_pagerduty_trigger_carries_routing_key_dedup_key_and_summary() -> None:
    body = pagerduty_event(alert(), "routing-key-1")
    assert body["routing_key"] == "routing-key-1"
    assert body["event_action"] == "trigger"
    assert body["dedup_key"] == DEDUP
    payload = body["payload"]
    assert isinstance(payload, dict)
    assert payload["summary"] == SUMMARY
    assert payload["severity"] == "critical"
    assert payload["source"] == "checkout-api"
    assert payload["component"] == SLO_ID
    assert payload["timestamp"] == "2026-11-24T10:00:00+00:00"
    assert payload["class"] == "burn-rate/page_1h_5m"


def test_pagerduty_trigger_links_and_a_body_over_512_kb_drop_the_details() -> None:
    links = {"Dashboard": "http://grafana/d/x", "Runbook": "http://wiki/rb"}
    body = pagerduty_event(alert(), "rk", "s", links, escalation="tier-2")
    assert body["links"] == [
        {"href": "http://grafana/d/x", "text": "Dashboard"},
        {"href": "http://wiki/rb", "text": "Runbook"},
    ]
    payload = body["payload"]
    assert isinstance(payload, dict)
    assert payload["custom_details"]["escalation"] == "tier-2"
    huge = pagerduty_event(alert(), "rk", "s", {"x": "http://h/" + "a" * 600_000})
    assert len(orjson.dumps(huge)) > 512 * 1024  # the links alone; details are replaced
    details = huge["payload"]["custom_details"]  # type: ignore[index]
    assert details == {"note": "details omitted: the event was over PagerDuty's 512 KB limit"}


@pytest.mark.parametrize(("severity", "pd_severity"), [("page", "critical"), ("ticket", "warning")])
def test_pagerduty_severity_is_critical_for_page_and_warning_for_ticket(
    severity: str, pd_severity: str
) -> None:
    payload = pagerduty_event(alert(severity=severity), "rk")["payload"]
    assert isinstance(payload, dict)
    assert payload["severity"] == pd_severity


def test_pagerduty_summary_is_cut_to_1024_chars_for_a_very_long_slo_id() -> None:
    slo = "checkout-api:" + "x" * 3000
    payload = pagerduty_event(alert(slo=slo), "rk")["payload"]
    assert len(alert(slo=slo).summary) > 3000
    assert isinstance(payload, dict)
    assert SUMMARY_MAX == 1024
    assert len(payload["summary"]) == 1024
    assert payload["summary"].startswith("[PAGE] checkout-api:xxx")
    assert payload["summary"].endswith("x…")


def test_pagerduty_resolve_carries_only_routing_key_action_and_dedup_key() -> None:
    assert pagerduty_event(alert(state="resolved"), "routing-key-1") == {
        "routing_key": "routing-key-1",
        "event_action": "resolve",
        "dedup_key": DEDUP,
    }


def test_dedup_key_is_the_sha256_hex_of_the_group_key() -> None:
    key = group_key(SLO_ID, "page_1h_5m", "page")
    assert key == "v1{rule='page_1h_5m',severity='page',slo='checkout-api:success_rate'}"
    assert dedup_key(SLO_ID, "page_1h_5m", "page") == hashlib.sha256(key.encode()).hexdigest()


def test_dedup_key_is_stable_across_releases() -> None:
    # Pinned: a changed key would leave open PagerDuty incidents that never resolve.
    assert dedup_key(SLO_ID, "page_1h_5m", "page") == DEDUP
    assert len(DEDUP) == 64


def test_dedup_key_differs_by_slo_rule_and_severity() -> None:
    keys = {
        dedup_key(SLO_ID, "page_1h_5m", "page"),
        dedup_key("search-api:latency", "page_1h_5m", "page"),
        dedup_key(SLO_ID, "page_6h_30m", "page"),
        dedup_key(SLO_ID, "page_1h_5m", "ticket"),
    }
    assert len(keys) == 4


def test_slack_message_has_fallback_text_and_coloured_blocks() -> None:
    ev = alert(time_to_exhaustion_s=5400.0)
    message = slack_message(ev, ev.summary, {"Runbook": "http://wiki/rb"}, "#reliability")
    assert message["text"] == f"FIRING: {SUMMARY}"
    assert message["channel"] == "#reliability"
    (attachment,) = message["attachments"]  # type: ignore[misc]
    assert attachment["color"] == "#D00000"
    blocks = attachment["blocks"]
    assert [b["type"] for b in blocks] == ["section", "section", "context"]
    assert blocks[0]["text"] == {"type": "mrkdwn", "text": f":rotating_light: *FIRING* {SUMMARY}"}
    fields = [f["text"] for f in blocks[1]["fields"]]
    assert "*Long window*\n15.0x over 1h (above 14.4x)" in fields
    assert "*Budget remaining*\n50.0%" in fields
    assert "*Budget exhausted in*\n1h 30m" in fields
    assert "<http://wiki/rb|Runbook>" in blocks[2]["elements"][0]["text"]


def test_slack_message_for_a_resolved_alert_says_resolved() -> None:
    ev = alert(state="resolved")
    message = slack_message(ev, ev.summary)
    assert message["attachments"][0]["color"] == "#2EB67D"  # type: ignore[index]
    assert message["text"] == (
        "RESOLVED: [PAGE] checkout-api:success_rate recovered: 15.0x over 1h, 20.0x over 5m "
        "(threshold 14.4x); budget remaining 50.0%"
    )
