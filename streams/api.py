"""HTTP surface of the worker: /metrics, /v1/slos, /v1/slos/{id}, /healthz.

Reads only what the evaluator published; never reaches into an agent.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from streams.app import Wiring
from streams.published import status_json


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

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        assigned = len(app.assignor.assigned_actives())
        ready = assigned > 0 and not app.rebalancing and not app.in_recovery
        return web.json(
            {"status": "ok" if ready else "starting", "assigned_partitions": assigned},
            status=200 if ready else 503,
        )
