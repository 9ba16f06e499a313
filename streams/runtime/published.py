"""The evaluator's latest results, which the HTTP surface reads (never an agent's internals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams.core.durations import window_label
from streams.core.slo import SLO
from streams.core.slo_math import SloStatus
from streams.core.timestamps import iso


@dataclass
class Published:
    """Latest SloStatus per SLO id, replaced whole at each evaluation, and the services
    evaluated since the gate timer last looked (it decides those again at once)."""

    statuses: dict[str, SloStatus] = field(default_factory=dict)
    fresh: set[str] = field(default_factory=set)


def identity(slo: SLO) -> dict[str, Any]:
    """What every view of an SLO starts with, evaluated or not."""
    return {
        "id": slo.id,
        "service": slo.service,
        "sli_type": slo.sli_type,
        "target": float(slo.target),
        "window": slo.window_label,
    }


def status_json(st: SloStatus) -> dict[str, Any]:
    """One SLO's status as plain JSON-ready data."""
    return {
        **identity(st.slo),
        "evaluated_at": iso(st.t),
        "no_data": st.no_data,
        "budget": {
            "consumed": st.budget.consumed,
            "remaining": st.budget.remaining,
            "bad": st.slo_window.bad,
            "total": st.slo_window.total,
            "exhausted_since": iso(st.exhausted_since),
            "time_to_exhaustion_s": {
                window_label(w): v for w, v in sorted(st.time_to_exhaustion_s.items())
            },
        },
        "windows": [
            {
                "window_s": w,
                "bad": c.bad,
                "total": c.total,
                "burn_rate": st.burn(w),
            }
            for w, c in sorted(st.windows.items())
        ],
        "alerts": [
            {
                "rule": r.rule.name,
                "severity": r.rule.severity,
                "long_window_s": r.rule.long_window_s,
                "short_window_s": r.rule.short_window_s,
                "threshold": float(r.rule.burn),
                "long_burn_rate": r.long_burn,
                "short_burn_rate": r.short_burn,
                "firing": r.state.firing,
                "since": iso(r.state.since),
            }
            for r in st.rules
        ],
    }
