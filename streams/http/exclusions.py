"""Maintenance windows and corrections (streams.core.exclusions): past or future event-time
ranges whose events leave the budget; the change shows at the next evaluation."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from streams.core.exclusions import Exclusion, ExclusionRequest, exclusion_json
from streams.http.common import Creation, Resource, mount, token_required, unknown
from streams.runtime.agents import broadcast
from streams.runtime.agents.gate import audit
from streams.runtime.wiring import Wiring


def _audited(e: Exclusion, who: str, now: float) -> dict[str, Any]:
    record = {"kind": "exclusion", "exclusion_kind": e.kind, "who": who, "why": e.comment}
    span = {"from": e.starts_at, "until": e.ends_at, "id": e.id}
    every = {"rrule": e.rrule, "timezone": e.timezone} if e.rrule else {}
    return {**record, "at": now, **e.matchers.model_dump(), **span, **every}


CREATION = Creation(
    "exclusion",
    ExclusionRequest,
    lambda body, who, now: body.exclusion(who, now),
    broadcast.publish_exclusion,
    _audited,
    lambda e, now: exclusion_json(e),
)


class Exclusions(Resource):
    async def get(self, request: Any) -> Any:
        ordered = sorted(self.w.exclusions.values(), key=lambda e: e.created_at)
        return self.json({"exclusions": [exclusion_json(e) for e in ordered]})

    @token_required
    async def post(self, request: Any, who: str) -> Any:
        return await CREATION.create(self, request, who)


class ExclusionById(Resource):
    @token_required
    async def delete(self, request: Any, who: str, exclusion_id: str) -> Any:
        e = self.w.exclusions.get(exclusion_id)
        if e is None:
            return unknown(self, "exclusion", exclusion_id)
        if e.deleted_at is None:
            now = time.time()
            e = e.model_copy(update={"deleted_at": now})
            await broadcast.publish_exclusion(self.w, e)
            await audit(self.w, {"kind": "exclusion_deleted", "who": who, "at": now, "id": e.id})
        return self.json(exclusion_json(e))


def register(w: Wiring, tokens: Mapping[str, str]) -> None:
    """Serve the exclusions."""
    mount(w, tokens, "/v1/exclusions", Exclusions)
    mount(w, tokens, "/v1/exclusions/{exclusion_id}", ExclusionById)
