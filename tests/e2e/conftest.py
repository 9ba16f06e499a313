"""End-to-end fixtures: the embedded broker on a free port, local Slack/PagerDuty receivers over
real HTTP, and sloburn workers as child processes, all stopped by PID at teardown."""

from __future__ import annotations

import asyncio
import copy
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from confluent_kafka import Producer
from prometheus_client.parser import text_string_to_metric_families

from streams.cli.remote import call_json
from streams.kafka import topics
from streams.local import kafka_cluster
from streams.local.demo import start_worker, stop_process, wait_healthy
from streams.local.embedded_broker import EmbeddedBroker, free_port
from streams.local.receivers import ReceiversThread
from streams.local.traffic import Scenario, fleet_config

E2E_CONFIG = """
services:
  checkout-api:
    sli_type: success_rate
    target: 0.999
    window_days: 30
settings:
  partitions: 4
notifications:
  slack_webhook_url: ${SLACK_WEBHOOK_URL}
  pagerduty_routing_key: ${PAGERDUTY_ROUTING_KEY}
  pagerduty_events_url: ${PAGERDUTY_EVENTS_URL}
"""


BROKERS = ("embedded", "kafka", "kafka-3")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test that uses ``broker`` on the brokers its ``brokers`` mark names (default:
    the embedded one); the test id says which, e.g. ``test_page_cycle[kafka]``."""
    if "broker" in metafunc.fixturenames:
        mark = metafunc.definition.get_closest_marker("brokers")
        kinds = mark.args if mark else ("embedded",)
        assert set(kinds) <= set(BROKERS), kinds
        metafunc.parametrize("broker", kinds, indirect=True)


class LocalKafka:
    """Apache Kafka on loopback (one node, or a cluster of ``nodes``), with the embedded
    broker's test surface (``bootstrap``, ``kind``, ``stop``/``start``); a restart keeps its
    data. ``cluster`` gives the fault tests each node."""

    kind = "kafka"

    def __init__(self, workdir: Path, nodes: int = 1) -> None:
        self.cluster = kafka_cluster.KafkaCluster(workdir, nodes)

    @property
    def bootstrap(self) -> str:
        return self.cluster.bootstrap

    def start(self) -> LocalKafka:
        """Start the cluster, or restart the nodes that are down."""
        if not self.cluster.nodes:
            self.cluster.start()
        for n in self.cluster.nodes:
            if n.proc is None or n.proc.poll() is not None:
                self.cluster.start_node(n)
        return self

    def stop(self) -> None:
        self.cluster.stop()

    def kill9(self) -> None:
        self.cluster.kill9(self.cluster.nodes[0])


@pytest.fixture
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The broker a test runs on (``request.param``), fresh for the test, stopped by PID."""
    if request.param in ("kafka", "kafka-3"):
        reason = kafka_cluster.available()
        if reason is not None:
            pytest.skip(f"Apache Kafka: {reason}")
        k = LocalKafka(tmp_path / "kafka", 3 if request.param == "kafka-3" else 1)
        try:
            yield k.start()
        finally:
            # SIGKILL, not a controlled shutdown: the data is thrown away, and a three-node
            # cluster's last nodes wait 30 s each for a quorum that has already gone.
            for node in k.cluster.nodes:
                k.cluster.kill9(node)
            for node in k.cluster.nodes:  # shown by pytest when the test failed
                if node.log.exists():
                    print(f"--- kafka node {node.node_id} server.log (last 30 lines) ---")
                    print(*node.log.read_text(errors="replace").splitlines()[-30:], sep="\n")
        return
    b = EmbeddedBroker(free_port(), log_file=tmp_path / "broker.log").start()
    try:
        yield b
    finally:
        b.stop()


class Received:
    """Thread-safe view of what the local receivers got."""

    def __init__(self, rt: ReceiversThread) -> None:
        self.rt = rt

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        return dict(self.rt.call(copy.deepcopy, self.rt.receivers.received))

    def env(self) -> dict[str, str]:
        return self.rt.receivers.env(routing_key="e2e-routing-key")


@pytest.fixture
def receivers() -> Iterator[Received]:
    rt = ReceiversThread()
    rt.start()
    try:
        yield Received(rt)
    finally:
        rt.stop()


@dataclass
class Worker:
    web: str
    log: Path
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        stop_process(self.proc)

    def kill9(self) -> None:
        """SIGKILL the worker's whole process group: no shutdown, no flush, no commit."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.web + path, timeout=5) as r:
            return orjson.loads(r.read())

    def post(self, path: str, body: Any, token: str | None = None) -> tuple[int, Any]:
        """POST JSON (with a bearer token if given); (status, decoded body), errors included."""
        return self.call("POST", path, body, token)

    def delete(self, path: str, token: str | None = None) -> tuple[int, Any]:
        """DELETE (with a bearer token if given); (status, decoded body)."""
        return self.call("DELETE", path, None, token)

    def call(self, method: str, path: str, body: Any, token: str | None) -> tuple[int, Any]:
        return call_json(self.web + path, method, body, token or "")

    def metric(self, name: str, **labels: str) -> float:
        """Sum of a metric's samples matching the labels (0 if absent)."""
        with urllib.request.urlopen(self.web + "/metrics", timeout=5) as r:
            text = r.read().decode()
        total = 0.0
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                    total += s.value
        return total


LIFECYCLE = re.compile(r"\[\^[^\]]*\]: (Starting|Stopping|Cleanup|Gathering|Closing|Wait for)")


@pytest.fixture
def worker(
    tmp_path: Path, broker: EmbeddedBroker, receivers: Received
) -> Iterator[Callable[[str], Worker]]:
    procs = []

    def start(config_text: str = E2E_CONFIG, **env_extra: str) -> Worker:
        """A worker on a free port, ready (healthy) when returned."""
        cfg = tmp_path / f"config{len(procs)}.yaml"
        cfg.write_text(config_text)
        log = tmp_path / f"worker{len(procs)}.log"
        port = free_port()
        env = {**os.environ, **receivers.env(), **env_extra}
        proc = start_worker([str(cfg)], broker.bootstrap, port, env, log)
        procs.append((proc, log))
        web = f"http://127.0.0.1:{port}"
        asyncio.run(wait_healthy(f"{web}/healthz", proc, timeout_s=120))
        return Worker(web, log, proc)

    try:
        yield start
    finally:
        for proc, log in procs:
            stop_process(proc)
            lines = log.read_text(errors="replace").splitlines()
            # Faust's service start/stop lines bury what sloburn and recovery said.
            said = [line for line in lines if not LIFECYCLE.search(line)][-80:]
            print(f"--- {log.name} (last 80 lines but service start/stop) ---", *said, sep="\n")
            print(f"--- {log.name} (last 10 lines) ---", *lines[-10:], sep="\n")


async def read_records(
    bootstrap: str, topic: str, settle_s: float = 3.0, max_s: float = 60.0
) -> list[tuple[bytes | None, bytes]]:
    """(key, value) of every record of ``topic``, read until ``settle_s`` pass without one."""
    c = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await c.start()
    out: list[tuple[bytes | None, bytes]] = []
    try:
        started = quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < settle_s and time.monotonic() - started < max_s:
            batch = await c.getmany(timeout_ms=300)
            got = [(m.key, m.value) for ms in batch.values() for m in ms]
            if got:
                out += got
                quiet_since = time.monotonic()
    finally:
        await c.stop()
    return out


def checkout_outage(
    history_s: int = 6 * 3600, live_s: int = 15 * 60, outage_after_s: int = 120, outage_s: int = 120
) -> Scenario:
    """checkout-api ending now: healthy history (1 error in 20,000), then a total outage.

    With the defaults on a 99.9 % SLO: burn(1h) 33x and burn(5m) > 14.4x page; burn(6h) 5.6x
    stays under 6x, so only the 1h/5m page fires, and it resolves a few minutes later.
    """
    return Scenario.ending_at(
        "checkout-api",
        time.time(),
        history_s=history_s,
        live_s=live_s,
        outage_after_s=outage_after_s,
        outage_s=outage_s,
        error_every=20000,
    )


def services_config(services: list[str]) -> str:
    """A config with one 99.9 % success-rate SLO per service, on 4 partitions."""
    return fleet_config(services, tail="settings:\n  partitions: 4\n")


def totals(w: Worker) -> dict[str, tuple[int, int]]:
    """(bad, total) in the SLO window, per service, as the worker reports them."""
    out = {}
    for s in w.get("/v1/slos")["slos"]:
        b = s.get("budget", {})
        out[s["service"]] = (b.get("bad", 0), b.get("total", 0))
    return out


def counted(w: Worker) -> dict[str, tuple[int, int]]:
    """(bad, total) per service that has counted anything."""
    return {s: c for s, c in totals(w).items() if c != (0, 0)}


class AckedProducer:
    """An idempotent acks=all producer that counts (bad, total) per service of what the
    cluster acknowledged: the counts every worker must end up with."""

    def __init__(self, bootstrap: str) -> None:
        self.p = Producer(
            {
                "bootstrap.servers": bootstrap,
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 5,
                "message.timeout.ms": 300000,
            }
        )
        self.acked: dict[str, list[int]] = {}
        self.failed = 0

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.failed += 1
            return
        value = orjson.loads(msg.value())
        for ev in value if isinstance(value, list) else [value]:
            cell = self.acked.setdefault(ev["service"], [0, 0])
            if "total" in ev:  # pre-counted
                cell[0] += ev["total"] - ev["good"]
                cell[1] += ev["total"]
            else:  # one outcome: the tests' failures are 503s
                cell[0] += ev["status_code"] == 503
                cell[1] += 1

    def send(self, service: str, value: bytes) -> None:
        self.p.produce(topics.OUTCOMES, value, key=service.encode(), on_delivery=self._delivered)
        self.p.poll(0)

    def flush(self) -> dict[str, tuple[int, int]]:
        assert self.p.flush(300) == 0, "the producer could not deliver everything"
        assert self.failed == 0, f"{self.failed} messages were not acknowledged"
        return {s: (b, t) for s, (b, t) in self.acked.items()}


async def topic_counts(
    bootstrap: str, topic: str, messages: int, judge: Callable[[bytes], Iterable[tuple[str, bool]]]
) -> dict[str, tuple[int, int]]:
    """(bad, total) per service over every message ``topic`` holds, ``judge`` saying what each
    message holds ((service, bad) per request): the input an uninterrupted run would count. It
    can hold more than was sent: without idempotent producers (the embedded broker has none) a
    producer retry may write a message twice."""
    c = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await c.start()
    out: dict[str, list[int]] = {}
    read = 0
    try:
        for _ in range(240):  # bounded: 2 minutes at most
            batch = await c.getmany(timeout_ms=500)
            for msgs in batch.values():
                for m in msgs:
                    read += 1
                    for service, bad in judge(m.value):
                        cell = out.setdefault(service, [0, 0])
                        cell[0] += bad
                        cell[1] += 1
            if read >= messages and not batch:
                break
    finally:
        await c.stop()
    return {svc: (bad, total) for svc, (bad, total) in out.items()}


def wait_equal(get: Callable[[], Any], want: Any, timeout_s: float, what: str) -> None:
    """Poll until ``get()`` equals ``want``; fail showing the last value next to ``want``."""
    last: list[Any] = [None]

    def same() -> bool:
        last[0] = get()
        return bool(last[0] == want)

    try:
        wait_for(same, timeout_s, what)
    except pytest.fail.Exception:
        pytest.fail(f"timed out after {timeout_s:.0f}s waiting for {what}: {last[0]} != {want}")


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``predicate`` every 0.25 s for at most ``timeout_s``; fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout_s:.0f}s waiting for {what}")
