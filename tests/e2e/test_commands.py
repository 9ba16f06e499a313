"""Commands a user types: `scripts/run --once`, `sloburn up --kafka`, and the worker refusing a
bad config."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaClient, AIOKafkaConsumer

from streams.kafka import topics
from streams.local import kafka_cluster
from streams.local.embedded_broker import EmbeddedBroker, free_port
from tests.conftest import BAD_SERVICE_MAP, sloburn

pytestmark = pytest.mark.e2e


def test_worker_with_a_bad_config_exits_nonzero_naming_file_field_and_expectation(
    tmp_path: Path, repo_root: Path
) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(BAD_SERVICE_MAP)
    proc = sloburn("worker", "--config", str(cfg), "--broker", f"127.0.0.1:{free_port()}")
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr
    assert lines == [
        f"config error: {cfg}: services.checkout-api.sli_type: expected 'success_rate' or "
        "'latency', got 'availability'",
        f"config error: {cfg}: services.checkout-api.target: must be between 0 and 1 "
        "(exclusive), got 1.2",
        f"config error: {cfg}: services.checkout-api.alerts.fast_burn.window_minutes: "
        "required field is missing",
    ]


def test_scripts_run_once_fires_and_resolves_a_page_then_exits_zero(repo_root: Path) -> None:
    env = {
        **os.environ,
        "SLOBURN_BROKER_PORT": str(free_port()),
        "SLOBURN_WEB_PORT": str(free_port()),
    }
    proc = subprocess.run(
        [str(repo_root / "scripts" / "run"), "--once", "--workdir", str(repo_root / ".sloburn")],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=repo_root,
        env=env,
    )
    print(proc.stdout[-4000:], proc.stderr[-4000:])
    assert proc.returncode == 0
    out = proc.stdout
    assert "PagerDuty trigger" in out
    assert "PagerDuty resolve" in out
    assert "page fired and resolved" in out


@pytest.mark.parametrize("kind", ["kafka"])
def test_sloburn_up_kafka_runs_the_demo_on_a_local_apache_kafka(kind: str, tmp_path: Path) -> None:
    if (reason := kafka_cluster.available()) is not None:
        pytest.skip(f"Apache Kafka: {reason}")
    env = {**os.environ, "SLOBURN_WEB_PORT": str(free_port())}
    proc = sloburn("up", "--once", "--kafka", "--workdir", str(tmp_path), timeout=240, env=env)
    print(proc.stdout[-4000:], proc.stderr[-4000:])
    assert proc.returncode == 0
    assert (
        f"Apache Kafka {kafka_cluster.KAFKA_VERSION} (KRaft, one node) on 127.0.0.1:" in proc.stdout
    )
    assert "PagerDuty resolve" in proc.stdout and "page fired and resolved" in proc.stdout
    assert "Apache Kafka, cluster" in (tmp_path / "worker.log").read_text()
    assert not [p for p in (tmp_path / "kafka").glob("node-*") if _running(p)]


def _running(node_home: Path) -> bool:
    """Whether a java process still runs with this node's config."""
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return str(node_home / "server.properties") in ps


@pytest.mark.brokers("embedded", "kafka")
def test_exactly_once_is_refused_with_one_line_on_either_broker(
    tmp_path: Path, broker: EmbeddedBroker
) -> None:
    """Faust's transactions do not cover sloburn's repartitioning (README "Exactly once")."""
    cfg = tmp_path / "ok.yaml"
    cfg.write_text("services:\n  a: {sli_type: success_rate, target: 0.99, window_days: 7}\n")
    proc = sloburn(
        "worker", "--config", str(cfg), "--broker", broker.bootstrap,
        "--processing-guarantee", "exactly_once",
    )  # fmt: skip
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .startswith("worker: --processing-guarantee exactly_once is not offered: ")
    )


def test_sloburn_broker_answers_on_its_port_and_stops_cleanly(repo_root: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "broker", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=repo_root,
    )
    try:
        assert proc.stdout is not None
        line = ""
        for _ in range(50):  # bounded: the ready line comes after the broker answers
            line = proc.stdout.readline()
            if "listening on" in line or not line:
                break
        assert f"listening on 127.0.0.1:{port}" in line
        assert "tansu" in line.lower() and "memory storage" in line
        asyncio.run(_bootstrap_ok(f"127.0.0.1:{port}"))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
    assert proc.returncode == 0


async def _bootstrap_ok(bootstrap: str) -> None:
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    await client.close()


@pytest.mark.brokers("embedded", "kafka")
def test_sloburn_send_produces_each_line_keyed_by_service(
    tmp_path: Path, repo_root: Path, broker: EmbeddedBroker
) -> None:
    lines = [
        b'{"service": "checkout-api", "ts": 1800000000, "status_code": 200}',
        b'[{"service": "search-api", "ts": 1800000001, "good": 9, "total": 10}]',
        b"not json at all",
    ]
    src = tmp_path / "events.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n\n")
    proc = sloburn("send", str(src), "--broker", broker.bootstrap)
    assert proc.returncode == 0, proc.stderr
    assert "sent 3 outcomes as 3 messages (as given); the broker acknowledged 3" in proc.stderr

    async def consume() -> list[tuple[bytes | None, bytes]]:
        c = AIOKafkaConsumer(
            topics.OUTCOMES,
            bootstrap_servers=broker.bootstrap,
            auto_offset_reset="earliest",
            group_id=None,
        )
        await c.start()
        got: list[tuple[bytes | None, bytes]] = []
        try:
            for _ in range(20):
                batch = await c.getmany(timeout_ms=500)
                got += [(m.key, m.value) for ms in batch.values() for m in ms]
                if len(got) >= 3:
                    break
        finally:
            await c.stop()
        return got

    got = sorted(asyncio.run(consume()), key=lambda kv: kv[1])
    assert got == sorted(
        [(b"checkout-api", lines[0]), (b"search-api", lines[1]), (None, lines[2])],
        key=lambda kv: kv[1],
    )


def test_worker_with_bad_kafka_security_settings_exits_with_one_line_each(
    repo_root: Path,
) -> None:
    env = {
        **os.environ,
        "SLOBURN_KAFKA_SECURITY_PROTOCOL": "TLS",
        "SLOBURN_KAFKA_SASL_PASSWORD": "never-printed-0123",
    }
    proc = sloburn(
        "worker",
        "--config",
        "configs/slo_config.yaml",
        "--broker",
        f"127.0.0.1:{free_port()}",
        env=env,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "config error: SLOBURN_KAFKA_SECURITY_PROTOCOL: expected one of PLAINTEXT, SSL, "
        "SASL_PLAINTEXT, SASL_SSL, got 'TLS'"
    ]
    assert "never-printed" not in proc.stdout + proc.stderr
