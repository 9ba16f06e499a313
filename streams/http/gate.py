"""The release gate: GET /v1/gate/{service} (may I deploy?) and the authenticated override."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from streams.core.release_gate import Override, Verdict
from streams.core.timestamps import Instant, iso
from streams.http.common import Resource, mount, read_json, token_required, unknown
from streams.runtime.agents.gate import audit, record_decision, verdict
from streams.runtime.wiring import Wiring

MAX_OVERRIDE_S = 7 * 86400
CRITICAL = {  # exactly the OpenAPI document's enum: anything else is a 400
    "false": False,
    "0": False,
    "no": False,
    "true": True,
    "1": True,
    "yes": True,
}


class OverrideRequest(BaseModel):
    """``{"reason": "...", "expires_in_seconds": 3600}`` or ``"expires_at": <unix s>``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["expires_at"],
                    "properties": {"expires_at": {"not": {"type": "null"}}},
                },
                {
                    "required": ["expires_in_seconds"],
                    "properties": {"expires_in_seconds": {"type": "number"}},
                },
            ]
        },
    )
    reason: str = Field(min_length=1, max_length=500)
    expires_at_unix: Instant | None = Field(default=None, alias="expires_at")
    expires_in_seconds: float | None = Field(default=None, gt=0, le=MAX_OVERRIDE_S)

    def expires_at(self, now: float) -> float:
        """The expiry as unix seconds; must lie in the next 7 days."""
        if (self.expires_at_unix is None) == (self.expires_in_seconds is None):
            raise ValueError("give exactly one of expires_at (a time) or expires_in_seconds")
        at = (
            self.expires_at_unix
            if self.expires_at_unix is not None
            else now + (self.expires_in_seconds or 0)
        )
        if not now < at <= now + MAX_OVERRIDE_S:
            raise ValueError("expiry must lie in the next 7 days")
        return at


def verdict_json(v: Verdict, critical: bool = False) -> dict[str, Any]:
    """The gate's answer (ratios 0..1; times ISO 8601 UTC)."""
    return {
        "service": v.service,
        "decision": v.decision,
        "proceed": v.proceed,
        "reasons": list(v.reasons),
        "budget_remaining": dict(v.budget_remaining),
        "firing": list(v.firing),
        "exhausted_since": iso(v.exhausted_since),
        "policy_version": v.policy_version,
        "evaluated_at": iso(time.time()),
        "underlying_decision": v.underlying,
        "critical": critical,
        "override": None
        if v.override is None
        else {
            "approver": v.override.approver,
            "reason": v.override.reason,
            "expires_at": iso(v.override.expires_at),
        },
        "rollbacks": dict(v.rollbacks),
    }


def unknown_service(view: Resource, service: str) -> Any:
    """404 naming the services this worker knows."""
    return unknown(view, "service", service, list(view.w.cfg.services))


class Gate(Resource):
    async def get(self, request: Any, service: str) -> Any:
        if service not in self.w.cfg.services:
            return unknown_service(self, service)
        given = request.query.getall("critical", ["false"])
        critical = CRITICAL.get(given[0]) if len(given) == 1 else None
        if critical is None:
            return self.json({"error": "invalid critical: expected true or false"}, status=400)
        now = time.time()
        recorded = await record_decision(self.w, service, now)
        v = (
            recorded
            if recorded is not None and not critical
            else verdict(self.w, service, now, critical)
        )
        return self.json(verdict_json(v, critical))


class GateOverride(Resource):
    @token_required
    async def post(self, request: Any, who: str, service: str) -> Any:
        w = self.w
        if service not in w.cfg.services:
            return unknown_service(self, service)
        if not all(s.enforcement.release_gate.approval_override for s in w.cfg.slos_of(service)):
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
        record = {"kind": "override", "service": service, "who": who, "why": body.reason}
        await audit(w, {**record, "until": expires_at, "at": now})
        return self.json(verdict_json(verdict(w, service, now)), status=201)

    async def get(self, request: Any, service: str) -> Any:
        """The override in force for the service (``"override": null`` when none is)."""
        if service not in self.w.cfg.services:
            return unknown_service(self, service)
        ov = override_in_force(self.w, service, time.time())
        return self.json({"service": service, "override": ov})

    @token_required
    async def delete(self, request: Any, who: str, service: str) -> Any:
        """Revoke the override in force now (audited); 404 when none is."""
        w = self.w
        if service not in w.cfg.services:
            return unknown_service(self, service)
        now = time.time()
        ov = override_in_force(w, service, now)
        if ov is None:
            return self.json({"error": f"no override in force for {service!r}"}, status=404)
        del w.gate_state[f"{service}|override"]
        record = {"kind": "override_revoked", "service": service, "who": who}
        await audit(w, {**record, "why": f"revoked the override by {ov['approver']}", "at": now})
        return self.json(verdict_json(verdict(w, service, now)))


def override_in_force(w: Wiring, service: str, now: float) -> dict[str, Any] | None:
    """The service's unexpired override as the API shows it (ISO times), or None."""
    raw = w.gate_state.get(f"{service}|override")
    if not raw or raw["expires_at"] <= now:
        return None
    return {
        "approver": raw["approver"],
        "reason": raw["reason"],
        "created_at": iso(raw["created_at"]),
        "expires_at": iso(raw["expires_at"]),
    }


class Overrides(Resource):
    async def get(self, request: Any) -> Any:
        """Every override in force among the services this worker decides."""
        now = time.time()
        found = ((s, override_in_force(self.w, s, now)) for s in self.w.cfg.services)
        return self.json({"overrides": [{"service": s, **ov} for s, ov in found if ov]})


def register(w: Wiring, tokens: Mapping[str, str]) -> None:
    """Serve the gate and its overrides."""
    mount(w, tokens, "/v1/gate/{service}", Gate)
    mount(w, tokens, "/v1/gate/{service}/override", GateOverride)
    mount(w, tokens, "/v1/overrides", Overrides)
