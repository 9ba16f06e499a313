"""The API's contract: schemathesis generates requests from the OpenAPI document the worker
serves (valid and invalid ones, with and without a token) and checks every answer against it:
no server error, documented status codes, content types and bodies."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer

from streams.kafka import topics
from streams.local.embedded_broker import EmbeddedBroker
from tests.e2e.conftest import Worker, wait_for
from tests.e2e.test_web_page import CONFIG

pytestmark = [pytest.mark.e2e]

TOKEN = "tok-contract-0123456789"


def test_every_answer_of_a_live_worker_matches_its_openapi_document(
    broker: EmbeddedBroker, worker: Callable[..., Worker], tmp_path: Path
) -> None:
    w = worker(CONFIG, SLOBURN_API_TOKENS=f"ci:{TOKEN}")
    p = Producer({"bootstrap.servers": broker.bootstrap})
    now = time.time()
    for service in ("checkout-api", "search-api"):
        ev = {"service": service, "ts": now - 600, "good": 990, "total": 1000}
        p.produce(topics.OUTCOMES, orjson.dumps(ev), key=service.encode())
    assert p.flush(30) == 0
    wait_for(lambda: not w.get("/v1/slos/checkout-api:success_rate")["no_data"], 60, "data")

    st = shutil.which("st", path=os.path.dirname(sys.executable))
    assert st is not None, "schemathesis is a dev dependency"
    run = subprocess.run(
        [
            st,
            "--config-file",
            str(Path(__file__).with_name("schemathesis.toml")),
            "run",
            f"{w.web}/v1/openapi.json",
            "--checks",
            "all",
            "--header",
            f"Authorization: Bearer {TOKEN}",
            "--max-examples",
            "40",
            "--seed",
            "20261129",
            "--workers",
            "1",
            "--request-timeout",
            "15",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""},
    )
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    assert w.proc.poll() is None
    # Malformed requests (a NUL in a header) are the client's fault: a warning, no traceback.
    log = w.log.read_text()
    assert "Traceback" not in log and "[ERROR]" not in log, log[-4000:]
