"""The worker's HTTP API, one module per resource; write endpoints need a bearer token
(SLOBURN_API_TOKENS, streams.http.auth)."""

from __future__ import annotations

import os

from streams.http import admin, exclusions, gate, openapi, otlp, silences, slos
from streams.http.auth import load_tokens
from streams.runtime.wiring import Wiring


def register(w: Wiring) -> None:
    """Serve every resource this worker offers (a replay worker: no silences or exclusions)."""
    tokens = load_tokens(os.environ)
    resources = (
        (slos, gate, admin)
        if w.runtime.replay_mode
        else (slos, gate, silences, exclusions, admin, otlp, openapi)
    )
    for resource in resources:
        resource.register(w, tokens)
