"""The release decision matrix (DESIGN.md), every boundary pinned."""

from __future__ import annotations

from fractions import Fraction

import pytest

from streams.core.enforcement import Enforcement, FeatureFlag, ReleaseGate
from streams.core.release_gate import Override, decide, rollback_episode, slo_decision
from streams.core.slo import SLO, AlertRule, workbook_rules
from streams.core.slo_math import AlertState, Budget, Counts, RuleStatus, SloStatus

T = 1_800_000_000.0
PAGE, _, TICKET, _ = workbook_rules()


def slo(name: str = "svc:success_rate", **enforcement: object) -> SLO:
    return SLO(
        id=name,
        service=name.split(":")[0],
        sli_type="success_rate",
        target=Fraction("0.99"),
        window_days=30,
        alerts=workbook_rules(),
        enforcement=Enforcement(**enforcement),  # type: ignore[arg-type]
        policy_version="2.0",
    )


def status(
    remaining: float,
    s: SLO | None = None,
    firing: tuple[tuple[AlertRule, float], ...] = (),
    exhausted_since: float | None = None,
    total: int = 100_000,
) -> SloStatus:
    s = s or slo()
    rules = tuple(RuleStatus(r, burn, burn, True, AlertState(True, T - 60)) for r, burn in firing)
    return SloStatus(
        slo=s,
        t=T,
        windows={},
        slo_window=Counts(0, total),
        budget=Budget(consumed=1 - remaining, remaining=remaining),
        rules=rules,
        exhausted_since=exhausted_since,
    )


@pytest.mark.parametrize(
    ("remaining", "expected"),
    [
        (1.0, "allow"),
        (0.8001, "allow"),
        (0.80, "allow_monitor"),  # "50-80 %": 80 itself is monitor
        (0.50, "allow_monitor"),
        (0.4999, "signoff"),
        (0.20, "signoff"),
        (0.1999, "block"),
        (0.0, "block"),
        (-0.5, "block"),
    ],
)
def test_budget_remaining_maps_onto_the_matrix(remaining: float, expected: str) -> None:
    assert slo_decision(status(remaining))[0] == expected


def test_every_threshold_and_the_action_come_from_the_policy() -> None:
    gate = ReleaseGate(
        threshold_pct=30, action="freeze", signoff_below_pct=60, monitor_below_pct=90
    )
    s = slo(release_gate=gate)
    assert slo_decision(status(0.91, s))[0] == "allow"
    assert slo_decision(status(0.70, s))[0] == "allow_monitor"
    assert slo_decision(status(0.45, s))[0] == "signoff"
    assert slo_decision(status(0.25, s))[0] == "freeze"


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="threshold_pct <= signoff_below_pct"):
        ReleaseGate(threshold_pct=60, signoff_below_pct=50)


def test_exhausted_for_the_configured_days_freezes() -> None:
    s = slo(release_gate=ReleaseGate(freeze_after_days=7))
    assert slo_decision(status(-0.1, s, exhausted_since=T - 7 * 86400))[0] == "freeze"
    assert slo_decision(status(-0.1, s, exhausted_since=T - 7 * 86400 + 1))[0] == "block"


def test_fast_burn_page_rolls_back_and_a_slower_page_does_not() -> None:
    s = slo(feature_flag=FeatureFlag(burn_threshold=14.4))
    decision, reasons = slo_decision(status(0.9, s, firing=((PAGE, 14.4),)))
    assert decision == "rollback"
    assert any("fast burn 14.4x" in r for r in reasons)
    decision, reasons = slo_decision(status(0.9, s, firing=((PAGE, 14.3),)))
    assert decision == "allow"
    assert any("page firing" in r for r in reasons)


def test_slow_burn_ticket_asks_for_stability_work_without_changing_the_decision() -> None:
    decision, reasons = slo_decision(status(0.9, firing=((TICKET, 3.5),)))
    assert decision == "allow"
    assert reasons == ["svc:success_rate: slow burn (ticket_1d_2h): schedule stability work"]


def test_reliability_work_below_its_percentage() -> None:
    _, reasons = slo_decision(status(0.05))
    assert "svc:success_rate: below 10% budget: schedule reliability work" in reasons


def test_no_data_is_its_own_answer_and_the_policy_says_whether_it_may_proceed() -> None:
    assert slo_decision(status(1.0, total=0)) == (
        "no_data",
        ["svc:success_rate: no data in the SLO window (policy: allow on no data)"],
    )
    allowed = decide("svc", [status(1.0, total=0)], now=T)
    assert (allowed.decision, allowed.proceed) == ("no_data", True)
    strict = slo(release_gate=ReleaseGate(on_no_data="block"))
    blocked = decide("svc", [status(1.0, strict, total=0)], now=T)
    assert (blocked.decision, blocked.proceed) == ("no_data", False)


def test_an_slo_never_evaluated_is_no_data_and_the_policy_version_shows_from_the_start() -> None:
    v = decide("svc", [], now=T, unevaluated=[slo()])
    assert (v.decision, v.proceed, v.policy_version) == ("no_data", True, "2.0")
    assert v.reasons == ("svc:success_rate: not evaluated yet (policy: allow on no data)",)


@pytest.mark.parametrize(
    ("on_no_data", "other", "expected"),
    [
        ("allow", 1.0, ("no_data", True)),  # healthy but partly silent: say so
        ("allow", 0.6, ("allow_monitor", True)),  # data that says more wins
        ("allow", 0.1, ("block", False)),
        ("block", 0.1, ("no_data", False)),  # silence under a blocking policy: no_data
        ("block", 0.6, ("no_data", False)),
    ],
)
def test_a_partly_silent_service_ranks_no_data_just_above_what_its_policy_does_with_it(
    on_no_data: str, other: float, expected: tuple[str, bool]
) -> None:
    silent = slo("svc:latency", release_gate=ReleaseGate(on_no_data=on_no_data))  # type: ignore[arg-type]
    v = decide("svc", [status(0.0, silent, total=0), status(other)], now=T)
    assert (v.decision, v.proceed) == expected


def test_an_override_lets_a_blocking_no_data_through() -> None:
    strict = slo(release_gate=ReleaseGate(on_no_data="block"))
    ov = Override("alice", "first release", created_at=T - 10, expires_at=T + 600)
    v = decide("svc", [status(1.0, strict, total=0)], now=T, override=ov)
    assert (v.decision, v.proceed, v.underlying) == ("allow_monitor", True, "no_data")


def test_a_service_takes_the_worst_of_its_slos_and_lists_every_reason() -> None:
    a, b = slo("svc:success_rate"), slo("svc:latency")
    v = decide("svc", [status(0.9, a), status(0.3, b)], now=T)
    assert v.decision == "signoff"
    assert v.budget_remaining == {"svc:success_rate": 0.9, "svc:latency": 0.3}
    assert v.reasons == ("svc:latency: 30.0% budget left: reliability sign-off required below 50%",)
    assert v.policy_version == "2.0"


def test_a_critical_fix_passes_block_but_not_freeze_or_rollback() -> None:
    assert decide("svc", [status(0.1)], now=T, critical=True).decision == "allow_monitor"
    frozen = status(-0.1, exhausted_since=T - 8 * 86400)
    assert decide("svc", [frozen], now=T, critical=True).decision == "freeze"
    burning = status(0.9, firing=((PAGE, 20.0),))
    assert decide("svc", [burning], now=T, critical=True).decision == "rollback"


def test_a_live_override_lets_releases_through_and_names_its_approver() -> None:
    frozen = status(-0.1, exhausted_since=T - 8 * 86400)
    ov = Override("alice", "hotfix for INC-42", created_at=T - 10, expires_at=T + 600)
    v = decide("svc", [frozen], now=T, override=ov)
    assert (v.decision, v.underlying, v.override) == ("allow_monitor", "freeze", ov)
    assert v.reasons[-1].startswith("override by alice until")
    expired = decide("svc", [frozen], now=T + 601, override=ov)
    assert (expired.decision, expired.override) == ("freeze", None)


def test_a_burn_tripping_both_pages_rolls_back_once_and_again_after_it_ends() -> None:
    call, ep = rollback_episode(None, "page_1h_5m", firing=True, qualifies=True)
    assert call and ep == ("page_1h_5m",)
    call, ep = rollback_episode(ep, "page_6h_30m", firing=True, qualifies=True)
    assert not call and ep == ("page_1h_5m", "page_6h_30m")
    call, ep = rollback_episode(ep, "page_1h_5m", firing=False, qualifies=False)
    assert not call and ep == ("page_6h_30m",)
    call, ep = rollback_episode(ep, "page_6h_30m", firing=False, qualifies=False)
    assert not call and ep is None
    call, ep = rollback_episode(ep, "page_6h_30m", firing=True, qualifies=True)
    assert call and ep == ("page_6h_30m",)


def test_a_page_below_the_rollback_threshold_opens_no_episode() -> None:
    assert rollback_episode(None, "page_6h_30m", firing=True, qualifies=False) == (False, None)
    assert rollback_episode(None, "page_6h_30m", firing=False, qualifies=False) == (False, None)
