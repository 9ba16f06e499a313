"""Config reload in a running worker: SIGHUP and POST /v1/reload (token required); a reload that
fails keeps the running config and says why; one that succeeds is served at once."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import pytest

from tests.e2e.conftest import Worker, services_config, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.brokers("embedded", "kafka")]

TOKEN = "tok-reload-5f1e2d3c4b"


def slo_ids(w: Worker) -> list[str]:
    return sorted(s["id"] for s in w.get("/v1/slos")["slos"])


def test_a_failed_reload_keeps_the_running_config_and_a_good_one_applies(
    worker: Callable[..., Worker],
) -> None:
    w = worker(services_config(["first-api"]), SLOBURN_API_TOKENS=f"ops:{TOKEN}")
    path = next(p for p in w.log.parent.glob("config*.yaml"))
    assert slo_ids(w) == ["first-api:success_rate"]

    assert w.post("/v1/reload", {})[0] == 401
    assert w.post("/v1/reload", {}, "tok-wrong")[0] == 401

    # Broken YAML, by signal: the worker logs it, keeps running and keeps serving the old SLO.
    path.write_text("services:\n  first-api: [unclosed\n")
    os.killpg(w.proc.pid, signal.SIGHUP)
    wait_for(lambda: w.metric("sloburn_config_reloads_total", result="failed") == 1, 20, "reload")
    assert w.proc.poll() is None
    assert w.metric("sloburn_config_last_reload_successful") == 0
    assert slo_ids(w) == ["first-api:success_rate"]
    assert "config reload (SIGHUP) failed, keeping the running config" in w.log.read_text()

    # A bad value, over HTTP: the answer names the file and the field.
    path.write_text(services_config(["first-api"]).replace("0.999", "1.5"))
    status, body = w.post("/v1/reload", {}, TOKEN)
    assert status == 422
    assert any(str(path) in e and "target" in e for e in body["errors"]), body

    # A setting a running worker can't take.
    path.write_text(services_config(["first-api"]).replace("partitions: 4", "partitions: 8"))
    status, body = w.post("/v1/reload", {}, TOKEN)
    assert status == 422
    assert body["errors"] == [
        "settings.partitions: changed from 4 to 8; this needs a worker restart"
    ]
    assert slo_ids(w) == ["first-api:success_rate"]

    # A good one: a service added, served at once, and by SIGHUP too.
    path.write_text(services_config(["first-api", "second-api"]))
    status, body = w.post("/v1/reload", {}, TOKEN)
    assert (status, body["changes"]) == (200, ["added second-api:success_rate"])
    assert slo_ids(w) == ["first-api:success_rate", "second-api:success_rate"]
    assert w.metric("sloburn_config_last_reload_successful") == 1

    path.write_text(services_config(["second-api"]))
    os.killpg(w.proc.pid, signal.SIGHUP)
    wait_for(lambda: slo_ids(w) == ["second-api:success_rate"], 20, "the SIGHUP reload")
    assert w.metric("sloburn_config_reloads_total", result="ok") == 2
    assert w.proc.poll() is None
