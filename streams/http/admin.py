"""Running the worker: /healthz, config reload, and the replay driver's progress and
evaluations (replay mode only)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from streams.http.common import Resource, mount, token_required
from streams.replay.rows import evaluation_rows
from streams.runtime import reload
from streams.runtime.wiring import Wiring


class Health(Resource):
    async def get(self, request: Any) -> Any:
        app, bw = self.w.app, self.w.broker_watch
        assigned = len(app.assignor.assigned_actives())
        ready = assigned > 0 and not app.rebalancing and not app.in_recovery
        status = "ok" if ready else "starting"
        if not bw.up:
            status = "broker_unreachable"
        broker = {
            "up": bw.up,
            "outage_seconds": round(bw.outage_seconds(time.time()), 1),
            "outages": bw.outages,
            **bw.cluster_health(),
        }
        body = {"status": status, "assigned_partitions": assigned, "broker": broker}
        return self.json(body, status=200 if status == "ok" else 503)


class Reload(Resource):
    @token_required
    async def post(self, request: Any, who: str) -> Any:
        result = await reload.reload(self.w, f"POST /v1/reload by {who}")
        if not result.ok:
            return self.json(
                {"status": "failed, running config kept", "errors": list(result.lines)},
                status=422,
            )
        return self.json({"status": "reloaded", "changes": list(result.lines)})


class ReplayProgress(Resource):
    async def get(self, request: Any) -> Any:
        tp = self.w.throughput
        return self.json(
            {
                "outcomes": tp.outcomes,
                "sli_sent": tp.sli_sent,
                "sli_applied": tp.sli_applied,
                "rejected": dict(sorted(tp.rejected.items())),
            }
        )


class ReplayEvaluate(Resource):
    async def post(self, request: Any) -> Any:
        t = (await request.json())["t"]
        rows = []
        for s in self.w.cfg.slos:
            if s.id in self.w.clocks:
                st, events = self.w.evaluator.evaluate(s, t)
                rows.append(evaluation_rows(st, events))
        return self.bytes(orjson.dumps({"rows": rows}), content_type="application/json")


def register(w: Wiring, tokens: Mapping[str, str]) -> None:
    """Serve health always, reload on a live worker, the replay endpoints on a replay one."""
    mount(w, tokens, "/healthz", Health)
    if w.runtime.replay_mode:
        mount(w, tokens, "/v1/replay/progress", ReplayProgress)
        mount(w, tokens, "/v1/replay/evaluate", ReplayEvaluate)
    else:
        mount(w, tokens, "/v1/reload", Reload)
