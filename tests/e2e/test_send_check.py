"""`sloburn send --check`: the broker's acknowledgements, then the worker's verdict on exactly
what was sent (accepted, rejected by reason), and an exit code a script can act on."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from streams.local.embedded_broker import EmbeddedBroker
from tests.conftest import sloburn
from tests.e2e.conftest import E2E_CONFIG, Worker

pytestmark = [pytest.mark.e2e]


def outcome(service: str, status: int = 200) -> bytes:
    return orjson.dumps({"service": service, "ts": time.time() - 60, "status_code": status})


def test_send_check_reports_the_workers_rejections_by_reason_and_exits_1(
    broker: EmbeddedBroker, worker: Callable[..., Worker], tmp_path: Path
) -> None:
    worker(E2E_CONFIG)
    good = tmp_path / "good.jsonl"
    good.write_bytes(b"\n".join(outcome("checkout-api") for _ in range(4)))
    ok = sloburn("send", str(good), "--broker", broker.bootstrap, "--check")
    assert ok.returncode == 0, ok.stderr
    assert "the broker acknowledged 4" in ok.stderr
    assert "check: the worker accepted 4, rejected 0" in ok.stderr

    mixed = tmp_path / "mixed.jsonl"
    lines = [outcome("checkout-api"), outcome("nobody-api"), b"{not json", outcome("checkout-api")]
    batch = b"[" + b",".join([outcome("checkout-api"), outcome("nobody-api")]) + b"]"
    mixed.write_bytes(b"\n".join([*lines, batch]))
    bad = sloburn("send", str(mixed), "--broker", broker.bootstrap, "--check")
    assert bad.returncode == 1, bad.stderr
    assert "sent 6 outcomes as 5 messages" in bad.stderr
    assert (
        "check: the worker accepted 3, rejected 3 (invalid_json 1, unknown_service 2; "
        "3 records in sloburn.outcomes.dlq)"
    ) in bad.stderr


def test_send_check_without_a_worker_says_it_cannot_tell_and_exits_2(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    f = tmp_path / "one.jsonl"
    f.write_bytes(outcome("checkout-api"))
    ran = sloburn("send", str(f), "--broker", broker.bootstrap, "--check", "--timeout", "3")
    assert ran.returncode == 2, ran.stderr
    assert "check: the worker has not read them within 3s (is it running?)" in ran.stderr
