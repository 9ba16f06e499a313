"""HTTP surface of the worker: /metrics, /v1/slos, /v1/slos/{id}, /healthz.

Reads only what the evaluator published; never reaches into an agent.
"""

from __future__ import annotations

from typing import Any

import orjson
from faust.web import View
from prometheus_client import CONTENT_TYPE_LATEST

from streams.app import Wiring
from streams.published import status_json
from streams.replay import evaluation_rows


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
            "window_days": slo.window_days,
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

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        assigned = len(app.assignor.assigned_actives())
        ready = assigned > 0 and not app.rebalancing and not app.in_recovery
        return web.json(
            {"status": "ok" if ready else "starting", "assigned_partitions": assigned},
            status=200 if ready else 503,
        )
