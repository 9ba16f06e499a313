"""Release decisions from budget state: the DESIGN.md decision matrix as policy-as-code.

Pure: the caller passes each SLO's latest status, the active override and the time. A service's
decision is the worst of its SLOs' and lists every reason, so a pipeline that is told "no" is
also told why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from streams.core.slo import SLO
from streams.core.slo_math import SloStatus
from streams.core.timestamps import iso

Decision = Literal["allow", "allow_monitor", "signoff", "block", "freeze", "rollback", "no_data"]

# Worst last: a service's decision is the highest of its SLOs'. ``no_data`` ranks just above
# what its policy does with it (``on_no_data``: allow or block), so a service with data that
# says block still says block, and one that is healthy but partly silent says no_data.
SEVERITY: tuple[Decision, ...] = (
    "allow",
    "allow_monitor",
    "signoff",
    "block",
    "freeze",
    "rollback",
)
DECISIONS: tuple[Decision, ...] = (*SEVERITY, "no_data")

# Decisions a release pipeline may proceed on (`sloburn gate` exits 0), besides a no_data
# whose policy allows it.
PROCEED: frozenset[Decision] = frozenset({"allow", "allow_monitor"})


@dataclass(frozen=True)
class Override:
    """An authenticated approval letting releases through until ``expires_at`` (unix s)."""

    approver: str
    reason: str
    created_at: float
    expires_at: float


@dataclass(frozen=True)
class Verdict:
    """A service's release decision with everything that led to it."""

    service: str
    decision: Decision
    proceed: bool  # whether a release may go ahead on this decision
    reasons: tuple[str, ...]
    budget_remaining: Mapping[str, float]  # SLO id -> ratio of the whole budget
    firing: tuple[str, ...]  # "slo/rule (severity)"
    exhausted_since: float | None  # earliest across the service's SLOs (event time)
    policy_version: str
    underlying: Decision  # the decision before any override or critical-fix exception
    override: Override | None = None
    rollbacks: Mapping[str, str] = field(default_factory=dict)  # SLO id -> rollback outcome


def _worst(decisions: Iterable[Decision]) -> Decision:
    return max(decisions, key=SEVERITY.index, default="allow")


def _rank(decision: Decision, on_no_data: Decision) -> float:
    if decision == "no_data":
        return SEVERITY.index(on_no_data) + 0.5
    return SEVERITY.index(decision)


def _no_data(slo: SLO, why: str) -> tuple[Decision, list[str]]:
    gate = slo.enforcement.release_gate
    return "no_data", [f"{slo.id}: {why} (policy: {gate.on_no_data} on no data)"]


def slo_decision(st: SloStatus) -> tuple[Decision, list[str]]:
    """One SLO's decision and its reasons (percentages of the whole budget)."""
    gate = st.slo.enforcement.release_gate
    flag = st.slo.enforcement.feature_flag
    pct = st.budget.remaining * 100
    name = st.slo.id
    reasons: list[str] = []
    if st.no_data:
        return _no_data(st.slo, "no data in the SLO window")
    if pct > gate.monitor_below_pct:
        decision: Decision = "allow"
    elif pct >= gate.signoff_below_pct:
        decision = "allow_monitor"
        reasons.append(
            f"{name}: {pct:.1f}% budget left (monitor below {gate.monitor_below_pct:g}%)"
        )
    elif pct >= gate.threshold_pct:
        decision = "signoff"
        reasons.append(
            f"{name}: {pct:.1f}% budget left: reliability sign-off required below "
            f"{gate.signoff_below_pct:g}%"
        )
    else:
        decision = gate.action
        reasons.append(
            f"{name}: {pct:.1f}% budget left: {gate.action} below {gate.threshold_pct:g}%"
        )
    if pct < gate.reliability_work_below_pct:
        reasons.append(
            f"{name}: below {gate.reliability_work_below_pct:g}% budget: schedule reliability work"
        )
    if st.exhausted_since is not None:
        days = (st.t - st.exhausted_since) / 86400
        if days >= gate.freeze_after_days:
            decision = _worst((decision, "freeze"))
            reasons.append(
                f"{name}: budget exhausted for {days:.1f} days "
                f"(freeze after {gate.freeze_after_days:g})"
            )
    for rs in st.rules:
        if not rs.state.firing:
            continue
        if rs.rule.severity == "page" and rs.long_burn >= flag.burn_threshold:
            decision = "rollback"
            reasons.append(
                f"{name}: fast burn {rs.long_burn:.1f}x ({rs.rule.name}) at or above "
                f"{flag.burn_threshold:g}x: roll back"
            )
        elif rs.rule.severity == "ticket":
            reasons.append(f"{name}: slow burn ({rs.rule.name}): schedule stability work")
        else:
            reasons.append(f"{name}: page firing ({rs.rule.name}, {rs.long_burn:.1f}x)")
    return decision, reasons


def decide(
    service: str,
    statuses: Iterable[SloStatus],
    now: float,
    override: Override | None = None,
    critical: bool = False,
    rollbacks: Mapping[str, str] | None = None,
    unevaluated: Sequence[SLO] = (),
) -> Verdict:
    """The service's decision at wall time ``now`` (unix s) from its SLOs' latest statuses;
    ``unevaluated`` SLOs (no status yet) count as no data.

    ``critical`` lets a critical fix through ``block`` (never through ``freeze`` or
    ``rollback``); a live override lets anything through and is shown with its approver.
    """
    sts = list(statuses)
    slos = [st.slo for st in sts] + list(unevaluated)
    judged = [slo_decision(st) for st in sts]
    judged += [_no_data(slo, "not evaluated yet") for slo in unevaluated]
    reasons = [r for _, rs in judged for r in rs]
    ranked = [
        (_rank(d, slo.enforcement.release_gate.on_no_data), d)
        for (d, _), slo in zip(judged, slos, strict=True)
    ]
    rank, underlying = max(ranked, default=(0.0, "allow"))
    proceed = underlying in PROCEED or (underlying == "no_data" and rank < 1)
    decision = underlying
    live = override if override is not None and override.expires_at > now else None
    if live is not None and not proceed:
        decision, proceed = "allow_monitor", True
        reasons.append(
            f"override by {live.approver} until {iso(live.expires_at)}: {live.reason} "
            f"(would be {underlying})"
        )
    elif critical and underlying == "block":
        decision, proceed = "allow_monitor", True
        reasons.append("critical fix: let through block")
    exhausted = [st.exhausted_since for st in sts if st.exhausted_since is not None]
    versions = sorted({slo.policy_version for slo in slos})
    return Verdict(
        service=service,
        decision=decision,
        proceed=proceed,
        reasons=tuple(reasons),
        budget_remaining={st.slo.id: st.budget.remaining for st in sts},
        firing=tuple(
            f"{st.slo.id}/{rs.rule.name} ({rs.rule.severity})"
            for st in sts
            for rs in st.rules
            if rs.state.firing
        ),
        exhausted_since=min(exhausted) if exhausted else None,
        policy_version=",".join(versions) or "default",
        underlying=underlying,
        override=live,
        rollbacks=dict(rollbacks or {}),
    )


def rollback_episode(
    episode: Sequence[str] | None, rule: str, firing: bool, qualifies: bool
) -> tuple[bool, tuple[str, ...] | None]:
    """One step of an SLO's rollback episode: (call the flag webhook now?, the episode after).

    The episode holds the page rules firing since the last rollback call. A burn that trips
    the 1h and then the 6h page is one incident, so the flag is turned off once: the second
    page joins the open episode instead of calling again. The episode closes when its last
    page resolves, and the next qualifying page calls again.
    """
    if not firing:
        rest = tuple(r for r in episode or () if r != rule)
        return False, rest or None
    if episode is not None:
        return False, tuple(sorted({*episode, rule}))
    if qualifies:
        return True, (rule,)
    return False, None
