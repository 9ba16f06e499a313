"""HTTP surface of the worker: /metrics, /v1/slos, /v1/slos/{id}, /healthz.

Reads only what the evaluator published; never reaches into an agent.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import resources
from typing import Any, TypeVar

import orjson
from faust.web import View
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from streams.core.exclusions import Exclusion, ExclusionRequest, exclusion_json
from streams.core.release_gate import Override, Verdict
from streams.core.silences import Silence, SilenceRequest
from streams.core.slo_math import burn_down
from streams.core.timestamps import UnixSeconds
from streams.http.auth import approver, load_tokens
from streams.replay.engine import evaluation_rows
from streams.runtime import reload
from streams.runtime.agents import broadcast
from streams.runtime.agents.gate import audit, record_decision, verdict
from streams.runtime.published import status_json
from streams.runtime.wiring import Wiring

MAX_BODY = 16 * 1024  # bytes accepted in a request body
MAX_OVERRIDE_S = 7 * 86400


class OverrideRequest(BaseModel):
    """``{"reason": "...", "expires_in_seconds": 3600}`` or ``"expires_at": <unix s>``."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)
    expires_at_unix: UnixSeconds | None = Field(default=None, alias="expires_at")
    expires_in_seconds: float | None = Field(default=None, gt=0, le=MAX_OVERRIDE_S)

    def expires_at(self, now: float) -> float:
        """The expiry as unix seconds; must lie in the next 7 days."""
        if (self.expires_at_unix is None) == (self.expires_in_seconds is None):
            raise ValueError("give exactly one of expires_at (unix seconds) or expires_in_seconds")
        at = (
            self.expires_at_unix
            if self.expires_at_unix is not None
            else now + (self.expires_in_seconds or 0)
        )
        if not now < at <= now + MAX_OVERRIDE_S:
            raise ValueError("expiry must lie in the next 7 days")
        return at


M = TypeVar("M", bound=BaseModel)


async def read_json(request: Any, model: type[M]) -> M:
    """The request body as ``model``; ValueError with a one-line reason (size capped)."""
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise ValueError(f"body over {MAX_BODY} bytes")
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ValueError(f"{where}: {err['msg']}" if where else err["msg"]) from None


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


def silence_json(s: Silence, now: float) -> dict[str, Any]:
    """How the API shows a silence (times ISO 8601 UTC; status at ``now``)."""
    status = "active" if s.active(now) else "pending" if now < s.starts_at else "expired"
    return {
        **s.model_dump(),
        "starts_at": _iso(s.starts_at),
        "ends_at": _iso(s.ends_at),
        "created_at": _iso(s.created_at),
        "status": status,
    }


def verdict_json(v: Verdict, critical: bool = False) -> dict[str, Any]:
    """The gate's answer (ratios 0..1; times ISO 8601 UTC)."""
    return {
        "service": v.service,
        "decision": v.decision,
        "reasons": list(v.reasons),
        "budget_remaining": dict(v.budget_remaining),
        "firing": list(v.firing),
        "exhausted_since": _iso(v.exhausted_since),
        "policy_version": v.policy_version,
        "evaluated_at": _iso(time.time()),
        "underlying_decision": v.underlying,
        "critical": critical,
        "override": None
        if v.override is None
        else {
            "approver": v.override.approver,
            "reason": v.override.reason,
            "expires_at": _iso(v.override.expires_at),
        },
        "rollbacks": dict(v.rollbacks),
    }


def register(w: Wiring) -> None:
    """Attach the views to the app's web server."""
    app, pub = w.app, w.published

    def slo_view(slo_id: str) -> dict[str, Any]:
        st = pub.statuses.get(slo_id)
        if st is not None:
            return status_json(st)
        slo = w.cfg.slo(slo_id)
        assert slo is not None
        return {
            "id": slo.id,
            "service": slo.service,
            "sli_type": slo.sli_type,
            "target": float(slo.target),
            "window": slo.window_label,
            "no_data": True,
        }

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(w.metrics.render(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/v1/slos")
    async def slos(web: Any, request: Any) -> Any:
        return web.json({"slos": [slo_view(s.id) for s in w.cfg.slos]})

    @app.page("/v1/slos/{slo_id}")
    async def slo(web: Any, request: Any, slo_id: str) -> Any:
        if w.cfg.slo(slo_id) is None:
            return web.json(
                {"error": f"unknown SLO {slo_id!r}", "known": [s.id for s in w.cfg.slos]},
                status=404,
            )
        return web.json(slo_view(slo_id))

    if w.runtime.replay_mode:

        @app.page("/v1/replay/progress")
        async def replay_progress(web: Any, request: Any) -> Any:
            tp = w.throughput
            return web.json(
                {
                    "outcomes": tp.outcomes,
                    "sli_sent": tp.sli_sent,
                    "sli_applied": tp.sli_applied,
                    "rejected": dict(sorted(tp.rejected.items())),
                }
            )

        class ReplayEvaluate(View):
            async def post(self, request: Any) -> Any:
                body = await request.json()
                t = body["t"]
                rows = []
                for s in w.cfg.slos:
                    if s.id in w.clocks:
                        st, events = w.evaluator.evaluate(s, t)
                        rows.append(evaluation_rows(st, events))
                return self.bytes(orjson.dumps({"rows": rows}), content_type="application/json")

        app.page("/v1/replay/evaluate")(ReplayEvaluate)

    tokens = load_tokens(os.environ)

    def unknown_service(web: Any, service: str) -> Any:
        return web.json(
            {"error": f"unknown service {service!r}", "known": list(w.cfg.services)}, status=404
        )

    @app.page("/v1/gate/{service}")
    async def gate_view(web: Any, request: Any, service: str) -> Any:
        if service not in w.cfg.services:
            return unknown_service(web, service)
        critical = request.query.get("critical", "").lower() in ("1", "true", "yes")
        now = time.time()
        recorded = await record_decision(w, service, now)
        v = (
            recorded
            if recorded is not None and not critical
            else verdict(w, service, now, critical)
        )
        return web.json(verdict_json(v, critical))

    class GateOverride(View):
        async def post(self, request: Any, service: str) -> Any:
            who = approver(request.headers.get("Authorization"), tokens)
            if who is None:
                return self.json({"error": "a valid bearer token is required"}, status=401)
            if service not in w.cfg.services:
                return unknown_service(self, service)
            if not all(
                s.enforcement.release_gate.approval_override for s in w.cfg.slos_of(service)
            ):
                return self.json(
                    {
                        "error": f"overrides are disabled for {service} "
                        "(release_gate.approval_override: false)"
                    },
                    status=403,
                )
            now = time.time()
            try:
                body = await read_json(request, OverrideRequest)
                expires_at = body.expires_at(now)
            except ValueError as e:
                return self.json({"error": f"invalid override: {e}"}, status=400)
            ov = Override(approver=who, reason=body.reason, created_at=now, expires_at=expires_at)
            w.gate_state[f"{service}|override"] = asdict(ov)
            await audit(
                w,
                {
                    "kind": "override",
                    "service": service,
                    "who": who,
                    "why": body.reason,
                    "until": expires_at,
                    "at": now,
                },
            )
            return self.json(verdict_json(verdict(w, service, now)), status=201)

    app.page("/v1/gate/{service}/override")(GateOverride)

    async def create(
        view: Any,
        request: Any,
        what: str,
        model: type[Any],
        make: Callable[[Any, str, float], Any],
        publish: Callable[[Wiring, Any], Awaitable[None]],
        audited: Callable[[Any, str, float], dict[str, Any]],
        show: Callable[[Any, float], dict[str, Any]],
    ) -> Any:
        """A token-guarded, audited creation (a silence, an exclusion) from a JSON body."""
        who = approver(request.headers.get("Authorization"), tokens)
        if who is None:
            return view.json({"error": "a valid bearer token is required"}, status=401)
        now = time.time()
        try:
            item = make(await read_json(request, model), who, now)
        except ValueError as e:
            return view.json({"error": f"invalid {what}: {e}"}, status=400)
        await publish(w, item)
        await audit(w, audited(item, who, now))
        return view.json(show(item, now), status=201)

    class Silences(View):
        async def get(self, request: Any) -> Any:
            now = time.time()
            ordered = sorted(w.silences.values(), key=lambda s: s.created_at)
            return self.json({"silences": [silence_json(s, now) for s in ordered]})

        async def post(self, request: Any) -> Any:
            def audited(s: Silence, who: str, now: float) -> dict[str, Any]:
                return {
                    "kind": "silence",
                    "who": who,
                    "why": s.comment,
                    "at": now,
                    **s.matchers.model_dump(),
                    "until": s.ends_at,
                    "id": s.id,
                }

            return await create(
                self,
                request,
                "silence",
                SilenceRequest,
                lambda body, who, now: body.silence(who, now),
                broadcast.publish,
                audited,
                silence_json,
            )

    class SilenceById(View):
        async def delete(self, request: Any, silence_id: str) -> Any:
            who = approver(request.headers.get("Authorization"), tokens)
            if who is None:
                return self.json({"error": "a valid bearer token is required"}, status=401)
            s = w.silences.get(silence_id)
            if s is None:
                return self.json({"error": f"unknown silence {silence_id!r}"}, status=404)
            now = time.time()
            if s.ends_at > now:
                s = s.model_copy(update={"ends_at": max(now, s.starts_at)})
                await broadcast.publish(w, s)
                await audit(
                    w,
                    {
                        "kind": "silence_expired",
                        "who": who,
                        "at": now,
                        "id": s.id,
                        **s.matchers.model_dump(),
                    },
                )
            return self.json(silence_json(s, now))

    class Exclusions(View):
        """Maintenance windows and corrections (streams.core.exclusions): past or future event-time
        ranges whose events leave the budget; the change shows at the next evaluation."""

        async def get(self, request: Any) -> Any:
            ordered = sorted(w.exclusions.values(), key=lambda e: e.created_at)
            return self.json({"exclusions": [exclusion_json(e) for e in ordered]})

        async def post(self, request: Any) -> Any:
            def audited(e: Exclusion, who: str, now: float) -> dict[str, Any]:
                return {
                    "kind": "exclusion",
                    "exclusion_kind": e.kind,
                    "who": who,
                    "why": e.comment,
                    "at": now,
                    **e.matchers.model_dump(),
                    "from": e.starts_at,
                    "until": e.ends_at,
                    "id": e.id,
                }

            return await create(
                self,
                request,
                "exclusion",
                ExclusionRequest,
                lambda body, who, now: body.exclusion(who, now),
                broadcast.publish_exclusion,
                audited,
                lambda e, now: exclusion_json(e),
            )

    class ExclusionById(View):
        async def delete(self, request: Any, exclusion_id: str) -> Any:
            who = approver(request.headers.get("Authorization"), tokens)
            if who is None:
                return self.json({"error": "a valid bearer token is required"}, status=401)
            e = w.exclusions.get(exclusion_id)
            if e is None:
                return self.json({"error": f"unknown exclusion {exclusion_id!r}"}, status=404)
            if e.deleted_at is None:
                now = time.time()
                e = e.model_copy(update={"deleted_at": now})
                await broadcast.publish_exclusion(w, e)
                await audit(
                    w,
                    {"kind": "exclusion_deleted", "who": who, "at": now, "id": e.id},
                )
            return self.json(exclusion_json(e))

    if not w.runtime.replay_mode:
        app.page("/v1/silences")(Silences)
        app.page("/v1/silences/{silence_id}")(SilenceById)
        app.page("/v1/exclusions")(Exclusions)
        app.page("/v1/exclusions/{exclusion_id}")(ExclusionById)

    class Reload(View):
        async def post(self, request: Any) -> Any:
            who = approver(request.headers.get("Authorization"), tokens)
            if who is None:
                return self.json({"error": "a valid bearer token is required"}, status=401)
            result = await reload.reload(w, f"POST /v1/reload by {who}")
            if not result.ok:
                return self.json(
                    {"status": "failed, running config kept", "errors": list(result.lines)},
                    status=422,
                )
            return self.json({"status": "reloaded", "changes": list(result.lines)})

    if not w.runtime.replay_mode:
        app.page("/v1/reload")(Reload)

    page = (resources.files("streams") / "web" / "index.html").read_bytes()

    @app.page("/")
    async def index(web: Any, request: Any) -> Any:
        return web.bytes(page, content_type="text/html")

    @app.page("/v1/slos/{slo_id}/burndown")
    async def burndown(web: Any, request: Any, slo_id: str) -> Any:
        slo = w.cfg.slo(slo_id)
        st = pub.statuses.get(slo_id)
        if slo is None or st is None:
            return web.json({"error": f"no evaluated SLO {slo_id!r}"}, status=404)
        hours = w.buckets.hours(slo_id, st.t - slo.retention_s, st.t)
        window_start, _ = slo.budget_window(st.t)
        hours = [h for h in hours if h[0] + 3600 > window_start]
        points = burn_down(hours, slo.target, st.slo_window.total)
        return web.json({"slo": slo_id, "evaluated_at": st.t, "points": points})

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        assigned = len(app.assignor.assigned_actives())
        bw = w.broker_watch
        ready = assigned > 0 and not app.rebalancing and not app.in_recovery
        status = "ok" if ready else "starting"
        if not bw.up:
            status = "broker_unreachable"
        return web.json(
            {
                "status": status,
                "assigned_partitions": assigned,
                "broker": {
                    "up": bw.up,
                    "outage_seconds": round(bw.outage_seconds(time.time()), 1),
                    "outages": bw.outages,
                    **bw.cluster_health(),
                },
            },
            status=200 if status == "ok" else 503,
        )
