"""The SLOs as the evaluator last published them: /v1/slos, /v1/slos/{id}, its burn-down, the
built-in page and /metrics. Reads only what the evaluator published; never reaches into an
agent."""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from streams.core.durations import PATTERN, parse_duration_s, window_label
from streams.core.slo import SLO, AlertRule
from streams.core.slo_math import burn_down, recent_burn_down
from streams.core.timestamps import iso
from streams.http.common import Resource, mount, unknown
from streams.runtime.journal import gate_history_key, timeline_key
from streams.runtime.published import identity, status_json
from streams.runtime.wiring import Wiring
from streams.state.history import Point, history

PAGE = (resources.files("streams") / "web" / "index.html").read_bytes()


def slo_view(w: Wiring, slo_id: str) -> dict[str, Any]:
    """One SLO's last evaluation, or what is known of it before the first."""
    st = w.published.statuses.get(slo_id)
    if st is not None:
        return status_json(st)
    slo = w.cfg.slo(slo_id)
    assert slo is not None
    return {**identity(slo), "no_data": True}


class Metrics(Resource):
    async def get(self, request: Any) -> Any:
        ctype = CONTENT_TYPE_LATEST.split(";")[0]
        return self.bytes(self.w.metrics.render(), content_type=ctype)


class Slos(Resource):
    async def get(self, request: Any) -> Any:
        return self.json({"slos": [slo_view(self.w, s.id) for s in self.w.cfg.slos]})


def unknown_slo(view: Resource, slo_id: str) -> Any:
    """404 naming the SLOs this worker knows."""
    return unknown(view, "SLO", slo_id, [s.id for s in view.w.cfg.slos])


class SloById(Resource):
    async def get(self, request: Any, slo_id: str) -> Any:
        if self.w.cfg.slo(slo_id) is None:
            return unknown_slo(self, slo_id)
        return self.json(slo_view(self.w, slo_id))


class BurnDown(Resource):
    async def get(self, request: Any, slo_id: str) -> Any:
        """Remaining budget at the end of each hour of the SLO window; no points before the
        SLO's first evaluation."""
        slo = self.w.cfg.slo(slo_id)
        if slo is None:
            return unknown_slo(self, slo_id)
        st = self.w.published.statuses.get(slo_id)
        if st is None:
            return self.json({"slo": slo_id, "evaluated_at": None, "points": []})
        hours = self.w.buckets.hours(slo_id, st.t - slo.retention_s, st.t)
        window_start, _ = slo.budget_window(st.t)
        hours = [h for h in hours if h[0] + 3600 > window_start]
        points = [
            {"at": iso(t), "remaining": r}
            for t, r in burn_down(hours, slo.target, st.slo_window.total)
        ]
        return self.json({"slo": slo_id, "evaluated_at": iso(st.t), "points": points})


def rule_json(r: AlertRule) -> dict[str, Any]:
    """A rule as the charts draw it: its threshold line on its windows' burn rates."""
    return {
        "name": r.name,
        "severity": r.severity,
        "kind": r.kind,
        "burn": float(r.burn),
        "long": window_label(r.long_window_s),
        "short": window_label(r.short_window_s),
    }


def point_json(p: Point, step: float) -> dict[str, Any]:
    """One time of the history: its step's counts, error ratio and rate, burn per window."""
    return {
        "at": iso(p.at),
        "bad": p.bad,
        "total": p.total,
        "error_ratio": p.bad / p.total if p.total else None,
        "rate_per_s": p.total / step,
        "burn": {window_label(x): b for x, b in p.burn.items()},
    }


RANGES = (3600, 6 * 3600, 86400, 3 * 86400, 7 * 86400)  # the range picker's, up to retention


def ranges(slo: SLO) -> list[str]:
    """The ranges the page offers: the usual ones the SLO's history covers, and all of it."""
    return [window_label(r) for r in RANGES if r < slo.retention_s] + [
        window_label(slo.retention_s)
    ]


def history_json(w: Wiring, slo: SLO, t_end: float, range_s: int) -> dict[str, Any]:
    """The detail page's charts over ``range_s`` up to the last evaluation: burn rate per
    alert window with each rule's threshold, error ratio and request rate per step, the
    exclusions to shade, the alert timeline and the service's gate history."""
    points = history(w.buckets, w.evaluator.exclusions, slo, t_end, range_s)
    lo = t_end - range_s
    step = points[1].at - points[0].at if len(points) > 1 else range_s
    gate = w.gate_state.get(gate_history_key(slo.service)) or []
    return {
        "slo": slo.id,
        "from": iso(lo),
        "to": iso(t_end),
        "step_s": step,
        "reaches_back_to": iso(t_end - slo.retention_s),
        "base_resolution_from": iso(t_end - slo.base_horizon_s),
        "ranges": ranges(slo),
        "windows": [window_label(x) for x in slo.windows_s],
        "rules": [rule_json(r) for r in slo.alerts],
        "points": [point_json(p, step) for p in points],
        "exclusions": [
            {
                "id": e.id,
                "kind": e.kind,
                "comment": e.comment,
                "from": iso(a),
                "to": iso(b),
                "by": e.created_by,
                "every": f"{e.rrule}, {e.timezone}" if e.rrule else None,
            }
            for e in w.evaluator.exclusions
            if e.applies(slo.service, slo.id)
            for a, b in e.spans(lo, t_end)
        ],
        "alerts": [
            {**a, "at": iso(a["at"])}
            for a in w.alert_states.get(timeline_key(slo.id)) or []
            if a["at"] >= lo
        ],
        "gate": [{**g, "at": iso(g["at"])} for g in gate if g["at"] >= lo],
    }


class History(Resource):
    async def get(self, request: Any, slo_id: str) -> Any:
        """``?range=`` (default 1d), clamped to 1h .. the SLO's retention; no points before
        the SLO's first evaluation."""
        slo = self.w.cfg.slo(slo_id)
        if slo is None:
            return unknown_slo(self, slo_id)
        given = request.query.getall("range", ["1d"])
        try:
            if len(given) != 1 or not re.fullmatch(PATTERN, given[0]):
                raise ValueError(f"range: expected one duration such as 6h or 7d, got {given}")
            range_s = parse_duration_s(given[0])
        except ValueError as e:
            return self.json({"error": str(e)}, status=400)
        # Clamped to what is stored: a week asked of a 1-day SLO shows its day.
        range_s = min(max(range_s, 3600), slo.retention_s)
        st = self.w.published.statuses.get(slo_id)
        if st is None:
            return self.json({"slo": slo_id, "to": None, "points": []})
        return self.json(history_json(self.w, slo, st.t, range_s))


SPARK_HOURS = 24


def fleet_row(w: Wiring, slo: SLO) -> dict[str, Any]:
    """One line of the fleet list: what an on-call engineer scans a fleet for."""
    st = w.published.statuses.get(slo.id)
    last = w.gate_state.get(f"{slo.service}|decision")  # as the gate timer last decided it
    row = {**identity(slo), "decision": last["decision"] if last else None}
    if st is None or st.no_data:
        return {**row, "no_data": True, "remaining": None, "burn_1h": None, "burn_6h": None,
                "firing": [], "spark": []}  # fmt: skip
    now = int(st.t // 3600) * 3600
    by_hour = {h: bad for h, bad, _ in w.buckets.hours(slo.id, now - (SPARK_HOURS - 1) * 3600, now)}
    bads = [by_hour.get(now - i * 3600, 0) for i in range(SPARK_HOURS - 1, -1, -1)]
    return {
        **row,
        "no_data": False,
        "remaining": st.budget.remaining,
        "burn_1h": st.burn(3600) if 3600 in st.windows else None,
        "burn_6h": st.burn(21600) if 21600 in st.windows else None,
        "firing": [
            {"rule": r.rule.name, "severity": r.rule.severity} for r in st.rules if r.state.firing
        ],
        "spark": recent_burn_down(bads, slo.target, st.slo_window.total, st.budget.remaining),
    }


class Fleet(Resource):
    async def get(self, request: Any) -> Any:
        """Every SLO in one answer: the page's list asks once, not per SLO."""
        return self.json({"slos": [fleet_row(self.w, s) for s in self.w.cfg.slos]})


class Page(Resource):
    async def get(self, request: Any) -> Any:
        return self.bytes(PAGE, content_type="text/html")


def register(w: Wiring, tokens: Mapping[str, str]) -> None:
    """Serve the read-only SLO resources."""
    mount(w, tokens, "/metrics", Metrics)
    mount(w, tokens, "/v1/slos", Slos)
    mount(w, tokens, "/v1/slos/{slo_id}", SloById)
    mount(w, tokens, "/v1/slos/{slo_id}/burndown", BurnDown)
    mount(w, tokens, "/v1/slos/{slo_id}/history", History)
    mount(w, tokens, "/v1/fleet", Fleet)
    mount(w, tokens, "/", Page)
    mount(w, tokens, "/slo", Page)  # one SLO in detail: the same page, another view
