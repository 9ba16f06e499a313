"""A command that cannot reach what it needs says so in one line, never a traceback."""

from __future__ import annotations

import pytest

from streams.local.embedded_broker import free_port
from tests.conftest import ROOT, sloburn


@pytest.mark.parametrize("mode", [[], ["--batch"]], ids=["plain", "batch"])
def test_send_to_a_broker_that_is_down_is_one_line(mode: list[str]) -> None:
    port = free_port()  # nothing listens there
    proc = sloburn(
        "send", str(ROOT / "examples" / "outages.jsonl"), "--broker", f"127.0.0.1:{port}", *mode
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("sloburn send: cannot reach the Kafka broker (KafkaConnectionError")
    assert f"127.0.0.1', {port}" in line


def test_gate_against_a_worker_that_is_down_is_one_line() -> None:
    proc = sloburn("gate", "checkout-api", "--url", f"http://127.0.0.1:{free_port()}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("gate checkout-api: cannot tell: worker at http://127.0.0.1:")
