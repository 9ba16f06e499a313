"""What one evaluation of one SLO gives a replay: its alert transitions, burn rates and budget
as rows, and the writer of the three JSONL files they go to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from streams.core.alerts import AlertEvent
from streams.core.slo_math import SloStatus, error_ratio

Rows = dict[str, Any]  # {"alerts": [...], "burn_rates": [...], "budget": {...}} of one SLO at t


def evaluation_rows(st: SloStatus, events: list[AlertEvent]) -> Rows:
    """The output lines of one SLO's evaluation (the replay file formats)."""
    slo, t = st.slo, st.t
    return {
        "alerts": [
            {
                "slo": e.slo,
                "service": e.service,
                "rule": e.rule,
                "severity": e.severity,
                "state": e.state,
                "ts": t,
            }
            for e in events
        ],
        "burn_rates": [
            {
                "ts": t,
                "slo": slo.id,
                "service": slo.service,
                "window_s": w,
                "burn_rate": st.burn(w),
                "error_ratio": error_ratio(c),
                "bad": c.bad,
                "total": c.total,
            }
            for w, c in sorted(st.windows.items())
        ],
        "budget": {
            "ts": t,
            "slo": slo.id,
            "service": slo.service,
            "remaining": st.budget.remaining,
            "consumed": st.budget.consumed,
            "exhausted_since": st.exhausted_since,
        },
    }


class Writer:
    """The three output files, written line by line as evaluations come."""

    def __init__(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.files = {
            name: open(out / f"{name}.jsonl", "wb")  # noqa: SIM115
            for name in ("alerts", "burn_rates", "budgets")
        }

    def write(self, rows: Rows) -> None:
        dumps = orjson.dumps
        f = self.files
        for a in rows["alerts"]:
            f["alerts"].write(dumps(a) + b"\n")
        f["burn_rates"].write(b"".join(dumps(r) + b"\n" for r in rows["burn_rates"]))
        f["budgets"].write(dumps(rows["budget"]) + b"\n")

    def close(self) -> None:
        for fh in self.files.values():
            fh.close()
