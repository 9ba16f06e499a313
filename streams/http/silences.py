"""Silences (Alertmanager-style, by service, SLO and severity): list, create, expire."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from streams.core.silences import Silence, SilenceRequest
from streams.core.timestamps import iso
from streams.http.common import Creation, Resource, mount, token_required, unknown
from streams.runtime.agents import broadcast
from streams.runtime.agents.gate import audit
from streams.runtime.wiring import Wiring


def silence_json(s: Silence, now: float) -> dict[str, Any]:
    """How the API shows a silence (times ISO 8601 UTC; status at ``now``)."""
    status = "active" if s.active(now) else "pending" if now < s.starts_at else "expired"
    return {
        **s.model_dump(),
        "starts_at": iso(s.starts_at),
        "ends_at": iso(s.ends_at),
        "created_at": iso(s.created_at),
        "status": status,
    }


def _audited(s: Silence, who: str, now: float) -> dict[str, Any]:
    record = {"kind": "silence", "who": who, "why": s.comment, "at": now}
    return {**record, **s.matchers.model_dump(), "until": s.ends_at, "id": s.id}


CREATION = Creation(
    "silence",
    SilenceRequest,
    lambda body, who, now: body.silence(who, now),
    broadcast.publish,
    _audited,
    silence_json,
)


class Silences(Resource):
    async def get(self, request: Any) -> Any:
        now = time.time()
        ordered = sorted(self.w.silences.values(), key=lambda s: s.created_at)
        return self.json({"silences": [silence_json(s, now) for s in ordered]})

    @token_required
    async def post(self, request: Any, who: str) -> Any:
        return await CREATION.create(self, request, who)


class SilenceById(Resource):
    @token_required
    async def delete(self, request: Any, who: str, silence_id: str) -> Any:
        s = self.w.silences.get(silence_id)
        if s is None:
            return unknown(self, "silence", silence_id)
        now = time.time()
        if s.ends_at > now:
            s = s.model_copy(update={"ends_at": max(now, s.starts_at)})
            await broadcast.publish(self.w, s)
            record = {"kind": "silence_expired", "who": who, "at": now, "id": s.id}
            await audit(self.w, {**record, **s.matchers.model_dump()})
        return self.json(silence_json(s, now))


def register(w: Wiring, tokens: Mapping[str, str]) -> None:
    """Serve the silences."""
    mount(w, tokens, "/v1/silences", Silences)
    mount(w, tokens, "/v1/silences/{silence_id}", SilenceById)
