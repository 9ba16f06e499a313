"""The OpenAPI document covers every route the worker serves (the contract test in
tests/e2e/test_openapi_contract.py checks the answers against it)."""

from __future__ import annotations

import re
from pathlib import Path

import streams.http
from streams.http.openapi import OPERATION_IDS, document

# Served, but described elsewhere: the page, OTLP/HTTP (the OpenTelemetry specification), and
# the replay driver's private endpoints (replay workers only).
ELSEWHERE = {"/", "/slo", "/v1/traces", "/v1/replay/progress", "/v1/replay/evaluate"}


def mounted() -> set[str]:
    found = set()
    for source in Path(streams.http.__file__).parent.glob("*.py"):
        found |= set(re.findall(r'mount\(w, tokens, "([^"]+)"', source.read_text()))
        found |= set(re.findall(r'^PATH = "([^"]+)"', source.read_text(), re.M))
    return found


def test_every_route_the_worker_serves_is_in_the_document_and_nothing_else() -> None:
    doc = document(["checkout-api"], ["checkout-api:success_rate"])
    assert set(doc["paths"]) == mounted() - ELSEWHERE
    ops = {(p, m) for p, item in doc["paths"].items() for m in item}
    assert ops == set(OPERATION_IDS)


def test_the_known_ids_are_the_examples_of_the_path_parameters() -> None:
    doc = document(["checkout-api"], ["checkout-api:success_rate"])
    (param,) = doc["paths"]["/v1/slos/{slo_id}"]["get"]["parameters"]
    assert param["schema"]["examples"] == ["checkout-api:success_rate"]
