"""The worker's API described as OpenAPI 3.1, served at ``GET /v1/openapi.json``: what client
generators, API explorers and CI's contract test (schemathesis against a live worker) read.

Request bodies are the pydantic models the handlers validate with, so the document cannot
drift from what is accepted; answers are described here, and the contract test checks every
answer against them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib.metadata import version
from typing import Any

from pydantic import BaseModel

from streams.core import durations
from streams.core.exclusions import ExclusionRequest
from streams.core.release_gate import DECISIONS
from streams.core.silences import SilenceRequest
from streams.http.common import Resource, mount
from streams.http.gate import OverrideRequest
from streams.runtime.wiring import Wiring

REF = "#/components/schemas/{model}"
JSON = "application/json"

NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
TIME = {"type": "string", "format": "date-time"}
INT = {"type": "integer"}
RATIO = {"type": "number"}
SEVERITY = {"enum": ["page", "ticket"]}
IDENTITY = {  # streams.runtime.published.identity
    "id": {"type": "string"},
    "service": {"type": "string"},
    "sli_type": {"type": "string"},
    "target": RATIO,
    "window": {"type": "string"},
}


def _obj(required: Mapping[str, Any], optional: Mapping[str, Any] | None = None) -> dict:
    props = {**required, **(optional or {})}
    return {"type": "object", "required": list(required), "properties": props}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _list_of(key: str, item: str) -> dict:
    return _obj({key: {"type": "array", "items": _ref(item)}})


POINTS = {"type": "array", "items": _obj(
    {"at": TIME, "bad": INT, "total": INT, "rate_per_s": {"type": "number"}},
    {"error_ratio": {"type": ["number", "null"]}, "burn": {"type": "object"}},
)}  # fmt: skip

ANSWERS: dict[str, dict] = {
    "Error": _obj({"error": {"type": "string"}}, {"known": {"type": "array"}}),
    "Matchers": {"type": "object"},
    "SloView": _obj(
        {**IDENTITY, "no_data": {"type": "boolean"}},
        {
            "evaluated_at": TIME,
            "budget": _obj(
                {
                    "consumed": RATIO,
                    "remaining": RATIO,
                    "bad": {"type": "integer"},
                    "total": {"type": "integer"},
                    "exhausted_since": NULLABLE_TIME,
                    "time_to_exhaustion_s": {"type": "object"},
                }
            ),
            "windows": {"type": "array"},
            "alerts": {
                "type": "array",
                "items": _obj(
                    {
                        "rule": {"type": "string"},
                        "severity": SEVERITY,
                        "firing": {"type": "boolean"},
                        "since": NULLABLE_TIME,
                    }
                ),
            },
        },
    ),
    "FleetRow": _obj(
        {
            **IDENTITY,
            "decision": {"type": ["string", "null"]},
            "no_data": {"type": "boolean"},
            "remaining": {"type": ["number", "null"]},
            "burn_1h": {"type": ["number", "null"]},
            "burn_6h": {"type": ["number", "null"]},
            "firing": {
                "type": "array",
                "items": _obj(
                    {"rule": {"type": "string"}, "severity": {"enum": ["page", "ticket"]}}
                ),
            },
            "spark": {
                "type": "array",
                "items": RATIO,
                "description": "budget remaining before each of the last 24 hours and now",
            },
        }
    ),
    "History": _obj(
        {"slo": {"type": "string"}, "to": NULLABLE_TIME, "points": POINTS},
        {k: {"type": "array"} for k in ("windows", "rules", "exclusions", "alerts", "gate")}
        | {"from": TIME, "step_s": {"type": "number"}, "reaches_back_to": TIME}
        | {"base_resolution_from": TIME, "ranges": {"type": "array"}},
    ),
    "BurnDown": _obj(
        {
            "slo": {"type": "string"},
            "evaluated_at": NULLABLE_TIME,
            "points": {
                "type": "array",
                "items": _obj({"at": TIME, "remaining": RATIO}),
            },
        }
    ),
    "Override": _obj(
        {
            "approver": {"type": "string"},
            "reason": {"type": "string"},
            "expires_at": TIME,
        },
        {"created_at": TIME},
    ),
    "Verdict": _obj(
        {
            "service": {"type": "string"},
            "decision": {"enum": list(DECISIONS)},
            "proceed": {"type": "boolean"},
            "reasons": {"type": "array", "items": {"type": "string"}},
            "budget_remaining": {"type": "object", "additionalProperties": RATIO},
            "firing": {"type": "array", "items": {"type": "string"}},
            "exhausted_since": NULLABLE_TIME,
            "policy_version": {"type": "string"},
            "evaluated_at": TIME,
            "critical": {"type": "boolean"},
            "override": {"anyOf": [_ref("Override"), {"type": "null"}]},
        }
    ),
    "OverrideInForce": _obj(
        {
            "service": {"type": "string"},
            "override": {"anyOf": [_ref("Override"), {"type": "null"}]},
        }
    ),
    "Silence": _obj(
        {
            "id": {"type": "string"},
            "matchers": _ref("Matchers"),
            "starts_at": TIME,
            "ends_at": TIME,
            "created_at": TIME,
            "created_by": {"type": "string"},
            "comment": {"type": "string"},
            "status": {"enum": ["active", "pending", "expired"]},
        }
    ),
    "Exclusion": _obj(
        {
            "id": {"type": "string"},
            "kind": {"enum": ["maintenance", "correction"]},
            "matchers": _ref("Matchers"),
            "starts_at": TIME,
            "ends_at": TIME,
            "created_at": TIME,
            "deleted_at": NULLABLE_TIME,
            "created_by": {"type": "string"},
            "comment": {"type": "string"},
            "status": {"enum": ["active", "deleted"]},
        }
    ),
    "Health": _obj(
        {
            "status": {"enum": ["ok", "starting", "broker_unreachable"]},
            "assigned_partitions": {"type": "integer"},
            "broker": {"type": "object"},
        }
    ),
}

BODIES: dict[str, type[BaseModel]] = {
    "SilenceRequest": SilenceRequest,
    "ExclusionRequest": ExclusionRequest,
    "OverrideRequest": OverrideRequest,
}


def _answer(description: str, schema: str | None = None, media: str = JSON) -> dict:
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {media: {"schema": _ref(schema)}}}


ERROR_400 = {"400": _answer("the body is not one (the reason in `error`)", "Error")}
ERROR_401 = {"401": _answer("no valid bearer token", "Error")}
ERROR_404 = {"404": _answer("unknown id (`known` lists the ids there are)", "Error")}


def _path_param(name: str, what: str, known: list[str] | None = None) -> dict:
    schema = {"type": "string", **({"examples": known} if known else {})}
    return {"name": name, "in": "path", "required": True, "description": what, "schema": schema}


def _get(summary: str, answers: dict, params: list | None = None) -> dict:
    return {"summary": summary, "parameters": params or [], "responses": answers}


def _write(
    summary: str, answers: dict, body: str | None = None, params: list | None = None
) -> dict:
    op = {
        "summary": summary,
        "security": [{"bearer": []}],
        "parameters": params or [],
        "responses": {**answers, **ERROR_401},
    }
    if body is not None:
        schema = _ref(body)
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": schema}}}
    return op


OPERATION_IDS = {
    ("/healthz", "get"): "health",
    ("/metrics", "get"): "metrics",
    ("/v1/openapi.json", "get"): "openapi",
    ("/v1/slos", "get"): "listSlos",
    ("/v1/slos/{slo_id}", "get"): "getSlo",
    ("/v1/slos/{slo_id}/burndown", "get"): "getBurnDown",
    ("/v1/slos/{slo_id}/history", "get"): "getHistory",
    ("/v1/fleet", "get"): "listFleet",
    ("/v1/gate/{service}", "get"): "gate",
    ("/v1/gate/{service}/override", "get"): "getOverride",
    ("/v1/gate/{service}/override", "post"): "createOverride",
    ("/v1/gate/{service}/override", "delete"): "revokeOverride",
    ("/v1/overrides", "get"): "listOverrides",
    ("/v1/silences", "get"): "listSilences",
    ("/v1/silences", "post"): "createSilence",
    ("/v1/silences/{silence_id}", "delete"): "expireSilence",
    ("/v1/exclusions", "get"): "listExclusions",
    ("/v1/exclusions", "post"): "createExclusion",
    ("/v1/exclusions/{exclusion_id}", "delete"): "deleteExclusion",
    ("/v1/reload", "post"): "reload",
}

# What a client can do next with what it just created (OpenAPI links; schemathesis follows
# them in its stateful phase).
LINKS = {
    ("/v1/silences", "post"): ("expireSilence", "silence_id"),
    ("/v1/exclusions", "post"): ("deleteExclusion", "exclusion_id"),
}


def _control_paths() -> dict[str, dict]:
    """Silences and exclusions."""
    return {
        "/v1/silences": {
            "get": _get("every silence", {"200": {"description": "silences", "content": {
                JSON: {"schema": _list_of("silences", "Silence")}}}}),
            "post": _write("silence matching alerts (audited)", {
                "201": _answer("the silence", "Silence"), **ERROR_400}, "SilenceRequest"),
        },
        "/v1/silences/{silence_id}": {"delete": _write("expire a silence now (audited)", {
            "200": _answer("the silence", "Silence"), **ERROR_404}, None,
            [_path_param("silence_id", "a silence id")])},
        "/v1/exclusions": {
            "get": _get("every maintenance window and correction", {"200": {
                "description": "exclusions", "content": {
                    JSON: {"schema": _list_of("exclusions", "Exclusion")}}}}),
            "post": _write("leave an event-time range out of budgets (audited)", {
                "201": _answer("the exclusion", "Exclusion"), **ERROR_400},
                "ExclusionRequest"),
        },
        "/v1/exclusions/{exclusion_id}": {"delete": _write("delete an exclusion (audited)", {
            "200": _answer("the exclusion", "Exclusion"), **ERROR_404}, None,
            [_path_param("exclusion_id", "an exclusion id")])},
    }  # fmt: skip


def _paths(services: list[str], slo_ids: list[str]) -> dict[str, dict]:
    slo = [_path_param("slo_id", "an SLO id, service:sli (GET /v1/slos lists them)", slo_ids)]
    service = [_path_param("service", "a service named in the config", services)]
    critical = {"name": "critical", "in": "query", "required": False,
                "schema": {"enum": ["true", "false", "1", "0", "yes", "no"]},
                "description": "a critical fix: may pass a block"}  # fmt: skip
    verdict = _answer("the decision now", "Verdict")
    return {
        "/healthz": {"get": _get("ready?", {
            "200": _answer("ready", "Health"), "503": _answer("not ready", "Health")})},
        "/metrics": {"get": _get("Prometheus metrics", {
            "200": _answer("text exposition format", None)})},
        "/v1/openapi.json": {"get": _get("this document", {"200": _answer("OpenAPI 3.1")})},
        "/v1/slos": {"get": _get("every SLO's last evaluation", {
            "200": {"description": "the SLOs",
                    "content": {JSON: {"schema": _list_of("slos", "SloView")}}}})},
        "/v1/slos/{slo_id}": {"get": _get("one SLO's last evaluation", {
            "200": _answer("the SLO", "SloView"), **ERROR_404}, slo)},
        "/v1/fleet": {"get": _get("one line per SLO, for the fleet list", {
            "200": {"description": "the SLOs",
                    "content": {JSON: {"schema": _list_of("slos", "FleetRow")}}}})},
        "/v1/slos/{slo_id}/burndown": {"get": _get("remaining budget hour by hour", {
            "200": _answer("points (none before the first evaluation)", "BurnDown"),
            **ERROR_404}, slo)},
        "/v1/slos/{slo_id}/history": {"get": _get("charts over a range of the stored past", {
            "200": _answer("points (none before the first evaluation)", "History"),
            "400": _answer("range is not a duration", "Error"), **ERROR_404},
            [*slo, {"name": "range", "in": "query", "required": False,
                    "description": "how far back (clamped to 1h .. the SLO's retention)",
                    "schema": {"type": "string", "default": "1d", "pattern": durations.PATTERN,
                               "examples": ["6h", "7d"]}}])},
        "/v1/gate/{service}": {"get": _get("may the service release now?", {
            "200": verdict, **ERROR_404,
            "400": _answer("critical is not true or false", "Error")}, [*service, critical])},
        "/v1/gate/{service}/override": {
            "get": _get("the override in force", {
                "200": _answer("the override, or null", "OverrideInForce"), **ERROR_404},
                service),
            "post": _write("let releases through until it expires (audited)", {
                "201": verdict, **ERROR_400, **ERROR_404,
                "403": _answer("overrides disabled by policy", "Error")},
                "OverrideRequest", service),
            "delete": _write("revoke the override in force (audited)", {
                "200": verdict, **ERROR_404}, None, service),
        },
        "/v1/overrides": {"get": _get("every override in force", {
            "200": {"description": "overrides", "content": {JSON: {"schema": _obj(
                {"overrides": {"type": "array", "items": {"type": "object"}}})}}}})},
        **_control_paths(),
        "/v1/reload": {"post": _write("reload the config files (audited)", {
            "200": {"description": "reloaded"},
            "422": {"description": "invalid config: the running one is kept"}})},
    }  # fmt: skip


def _named(paths: dict[str, dict]) -> dict[str, dict]:
    """Each operation with its operationId, and the links from what creates to what deletes."""
    for (path, method), op_id in OPERATION_IDS.items():
        paths[path][method]["operationId"] = op_id
    for (path, method), (target, param) in LINKS.items():
        created = paths[path][method]["responses"]["201"]
        created["links"] = {
            target: {"operationId": target, "parameters": {param: "$response.body#/id"}}
        }
    return paths


@functools.cache
def _body_schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for name, model in BODIES.items():
        schema = model.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    return schemas


def document(services: list[str], slo_ids: list[str]) -> dict[str, Any]:
    """The OpenAPI document of a live worker (replay workers serve a subset); the services
    and SLOs it knows are the path parameters' examples."""
    schemas = {**ANSWERS, **_body_schemas()}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "sloburn worker API",
            "version": version("sloburn"),
            "description": "Error budgets, burn rates, the release gate, silences and "
            "exclusions. Times are ISO 8601 UTC; inputs also take unix seconds.",
        },
        "paths": _named(_paths(services, slo_ids)),
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


class OpenApi(Resource):
    async def get(self, request: Any) -> Any:
        cfg = self.w.cfg
        return self.json(document(list(cfg.services), [s.id for s in cfg.slos]))


def register(w: Wiring, tokens: Mapping[str, str]) -> None:
    """Serve the document."""
    mount(w, tokens, "/v1/openapi.json", OpenApi)
