"""The notification rules that are pure: routing, the notification log, silences, rate limits
and the receiver config (secrets present, never shown)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from streams.config.errors import ConfigError
from streams.config.loading import load_config
from streams.config.notifications import Notifications
from streams.core.alerts import AlertEvent, dedup_key
from streams.core.silences import Matchers, Silence, SilenceRequest, silencing
from streams.notify.ledger import after_sent, plan, release_due, repeat_due
from streams.notify.ratelimit import CRITICAL, OTHER, RESOLVE, Limiter
from streams.notify.routing import targets

SLO = "payment-gateway:success_rate"


def ev(state: str = "firing", severity: str = "page", rule: str = "fast_burn") -> AlertEvent:
    return AlertEvent(
        id=f"{state}-1",
        slo=SLO,
        service="payment-gateway",
        rule=rule,
        severity=severity,  # type: ignore[arg-type]
        state=state,  # type: ignore[arg-type]
        long_window_s=3600,
        short_window_s=300,
        long_burn_rate=20.0,
        short_burn_rate=30.0,
        threshold=14.4,
        budget_remaining=0.4,
        ts=1_800_000_000.0,
        dedup_key=dedup_key(SLO, rule, severity),
    )


# --- the notification log -------------------------------------------------------------------


def test_a_trigger_is_sent_once_and_its_resolve_once() -> None:
    assert plan(None, ev(), hold=None, send_resolved=True).action == "send"
    sent = after_sent(ev(), 100.0)
    assert plan(sent, ev(), None, True).reason == "already sent"  # redelivery, restart
    assert plan(sent, ev("resolved"), None, True).action == "send"
    done = after_sent(ev("resolved"), 200.0)
    assert plan(done, ev("resolved"), None, True).reason == "already resolved"
    assert plan(done, ev(), None, True).action == "send"  # it fires again later


def test_a_resolve_needs_an_accepted_trigger_and_then_ignores_silences() -> None:
    assert plan(None, ev("resolved"), None, True).reason == "nothing was sent"
    muted = plan(None, ev(), hold="silenced", send_resolved=True)
    assert (muted.action, muted.reason) == ("skip", "silenced")
    assert muted.entry is not None
    assert plan(muted.entry, ev("resolved"), None, True).reason == "no trigger was accepted"
    sent = after_sent(ev(), 100.0)
    assert plan(sent, ev("resolved"), hold="silenced", send_resolved=True).action == "send"
    off = plan(sent, ev("resolved"), None, send_resolved=False)
    assert (off.action, off.reason) == ("skip", "send_resolved is off")


def test_repeats_are_due_after_the_interval_unless_silenced() -> None:
    sent = after_sent(ev(), 100.0)
    assert not repeat_due(sent, 399.0, 300.0, held=False)
    assert repeat_due(sent, 400.0, 300.0, held=False)
    assert not repeat_due(sent, 400.0, 300.0, held=True)
    assert not repeat_due(after_sent(ev("resolved"), 100.0), 1000.0, 300.0, False)


def test_a_held_trigger_goes_out_once_nothing_holds_it_and_it_still_fires() -> None:
    ticket = ev(rule="slow_burn", severity="ticket")
    held = plan(None, ticket, hold="inhibited by a firing page", send_resolved=True)
    assert (held.action, held.reason) == ("skip", "inhibited by a firing page")
    assert held.entry is not None
    assert not release_due(held.entry, "inhibited by a firing page")  # the page still fires
    assert release_due(held.entry, None)  # the page resolved, the ticket still fires
    assert not release_due(after_sent(ticket, 100.0), None)  # delivered: nothing to release
    # It resolved while held: nothing is released, and its resolve has nothing to close.
    gone = plan(held.entry, ev("resolved", "ticket", "slow_burn"), None, True)
    assert gone.reason == "no trigger was accepted" and gone.entry is not None
    assert not release_due(gone.entry, None)
    # A silence that ends releases the same way.
    muted = plan(None, ev(), hold="silenced", send_resolved=True).entry
    assert muted is not None and release_due(muted, None)


# --- routing --------------------------------------------------------------------------------

ROUTED = """
policy:
  version: "1"
  services:
    - name: payment-gateway
      sli: {metric: http_requests_total, label: status_code, success_values: ["200"]}
      slo: {target: 0.999, window_days: 30}
      burn_rates:
        fast_burn: {window_minutes: 60, multiplier: 14.4}
        slow_burn: {window_minutes: 360, multiplier: 6}
      enforcement:
        notification:
          channels: ["slack:#reliability", "pagerduty:escalation-tier-2"]
          when: ["fast_burn"]
notifications:
  receivers:
    escalation-tier-2: {type: pagerduty, routing_key: rk-tier2}
    main-pd: {type: pagerduty, routing_key: rk-main}
    team-slack: {type: slack, webhook_url: "https://hooks.example/T/B/x"}
"""


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Any:
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return load_config([p], env=env or {})


def names(cfg: Any, severity: str = "page", rule: str = "fast_burn") -> list[tuple[str, str]]:
    slo = cfg.slos[0]
    return [
        (t.name, t.channel or t.escalation)
        for t in targets(cfg.notifications, slo, slo.service, slo.id, rule, severity)
    ]


def test_the_seed_channels_route_the_rules_named_in_when(tmp_path: Path) -> None:
    cfg = load(tmp_path, ROUTED)
    assert names(cfg) == [("team-slack", "#reliability"), ("escalation-tier-2", "")]
    # slow_burn is not in `when`: the default routes take it (every PagerDuty and Slack).
    assert names(cfg, rule="slow_burn") == [
        ("escalation-tier-2", ""),
        ("main-pd", ""),
        ("team-slack", ""),
    ]


def test_routes_match_first_unless_continue(tmp_path: Path) -> None:
    text = (
        ROUTED.split("      enforcement:")[0]
        + """notifications:
  receivers:
    pd: {type: pagerduty, routing_key: rk}
    slack-a: {type: slack, webhook_url: "https://a"}
    slack-b: {type: slack, webhook_url: "https://b"}
  routes:
    - match: {severity: page}
      receivers: [pd]
      continue: true
    - match: {service: payment-gateway}
      receivers: [slack-a]
      group_wait_seconds: 30
    - match: {severity: ticket}
      receivers: [slack-b]
"""
    )
    cfg = load(tmp_path, text)
    assert names(cfg) == [("pd", ""), ("slack-a", "")]
    assert names(cfg, severity="ticket") == [("slack-a", "")]
    slo = cfg.slos[0]
    (t,) = [t for t in targets(cfg.notifications, slo, slo.service, slo.id, "r", "ticket")]
    assert t.group_wait_s == 30


def test_the_short_form_pages_pagerduty_and_slack_and_tickets_slack() -> None:
    notes = Notifications(slack_webhook_url="https://s", pagerduty_routing_key="rk")
    page = targets(notes, None, "svc", "svc:success_rate", "r", "page")
    ticket = targets(notes, None, "svc", "svc:success_rate", "r", "ticket")
    assert [t.name for t in page] == ["pagerduty", "slack"]
    assert [t.name for t in ticket] == ["slack"]
    assert targets(Notifications(), None, "svc", "svc:success_rate", "r", "page") == []


def test_a_declared_receiver_needs_its_secret_and_the_error_never_shows_one(
    tmp_path: Path,
) -> None:
    text = ROUTED.replace("routing_key: rk-main", "routing_key: '${MAIN_KEY:-}'")
    with pytest.raises(ConfigError) as e:
        load(tmp_path, text)
    assert "notifications.receivers.main-pd" in str(e.value)
    assert "routing_key (or routing_key_file) must be set and non-empty" in str(e.value)
    assert "rk-tier2" not in str(e.value) and "hooks.example" not in str(e.value)


def test_secrets_can_come_from_files(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("rk-from-file\n")
    text = ROUTED.replace("routing_key: rk-main", f"routing_key_file: {tmp_path / 'key'}")
    cfg = load(tmp_path, text)
    assert cfg.notifications.receivers["main-pd"].routing_key == "rk-from-file"
    missing = ROUTED.replace("routing_key: rk-main", "routing_key_file: /nonexistent/key")
    with pytest.raises(ConfigError, match="routing_key_file: cannot read /nonexistent/key"):
        load(tmp_path, missing)


def test_a_route_to_an_unknown_receiver_or_a_bad_template_is_a_config_error(
    tmp_path: Path,
) -> None:
    bad_route = ROUTED + "  routes:\n    - receivers: [nobody]\n"
    with pytest.raises(ConfigError, match="unknown receiver 'nobody'"):
        load(tmp_path, bad_route)
    with pytest.raises(ConfigError, match="summary_template: bad placeholder 'sloo'"):
        load(tmp_path, ROUTED + "  summary_template: '{sloo} burns'\n")


# --- silences -------------------------------------------------------------------------------


def test_silences_match_labels_within_their_time_range() -> None:
    s = SilenceRequest(
        matchers=Matchers(slo=SLO, severity="page"), comment="deploying", duration_seconds=60
    ).silence("alice", now=1000.0)
    assert (s.starts_at, s.ends_at, s.created_by) == (1000.0, 1060.0, "alice")
    assert silencing([s], "payment-gateway", SLO, "page", 1030.0) == s
    assert silencing([s], "payment-gateway", SLO, "ticket", 1030.0) is None
    assert silencing([s], "payment-gateway", SLO, "page", 1060.0) is None  # over
    assert silencing([s], "payment-gateway", SLO, "page", 999.0) is None  # not yet


def test_a_silence_needs_a_matcher_and_a_sane_range() -> None:
    with pytest.raises(ValueError, match="at least one matcher"):
        Matchers()
    with pytest.raises(ValueError, match="exactly one of"):
        SilenceRequest(matchers=Matchers(slo=SLO), comment="c").silence("a", 0.0)
    past = SilenceRequest(matchers=Matchers(slo=SLO), comment="c", ends_at=5.0)
    with pytest.raises(ValueError, match="in the future"):
        past.silence("a", 10.0)
    assert isinstance(
        SilenceRequest(matchers=Matchers(service="x"), comment="c", ends_at=20.0).silence(
            "a", 10.0
        ),
        Silence,
    )


# --- rate limits ----------------------------------------------------------------------------


async def test_the_limiter_paces_sends_and_serves_resolves_and_pages_first() -> None:
    lim = Limiter(rate=20.0, burst=1.0)
    order: list[str] = []

    async def send(name: str, prio: int) -> None:
        await lim.acquire(prio)
        order.append(name)

    await lim.acquire()  # the burst is spent: the three below queue up
    await asyncio.gather(send("ticket", OTHER), send("page", CRITICAL), send("resolve", RESOLVE))
    assert order == ["resolve", "page", "ticket"]


async def test_a_429_holds_the_whole_endpoint() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    lim = Limiter(rate=1.0, burst=3.0, clock=lambda: now[0], sleep=sleep)
    lim.hold(2.0)
    await lim.acquire()
    assert now[0] >= 2.0 and lim.tokens == 2.0  # tokens were there; the hold was not over


def test_a_when_entry_naming_no_rule_loads_with_a_warning(tmp_path: Path) -> None:
    cfg = load(
        tmp_path, ROUTED.replace('when: ["fast_burn"]', 'when: ["fast", "budget_exhausted"]')
    )
    (warning,) = cfg.warnings
    assert "enforcement.notification.when: 'fast' names no burn rate" in warning
    assert names(cfg) == [("escalation-tier-2", ""), ("main-pd", ""), ("team-slack", "")]
