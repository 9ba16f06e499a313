"""A 3-broker Apache Kafka cluster under faults: topics with three replicas and min ISR 2, an
idempotent producer with acks=all. Under steady traffic with a page firing, the leader of an
outcomes partition is killed (-9) and brought back, then the broker coordinating the worker's
consumer group, then the active KRaft controller. The worker keeps running and /healthz says
what happened; every budget count equals what the producer had acknowledged; the page triggers
and resolves exactly once on PagerDuty and on Slack. A second scenario kills one of two
workers during a broker failover.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from confluent_kafka.admin import AdminClient

from streams.core.alerts import dedup_key
from streams.kafka import topics
from streams.local.traffic import Scenario, fleet_config
from tests.e2e.conftest import AckedProducer, Received, Worker, counted, wait_equal, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.brokers("kafka-3")]

STEADY = [f"svc-{i:02d}" for i in range(6)]
CONFIG = fleet_config(
    ["checkout-api", *STEADY],
    tail="""settings:
  partitions: 4
notifications:
  slack_webhook_url: ${SLACK_WEBHOOK_URL}
  pagerduty_routing_key: ${PAGERDUTY_ROUTING_KEY}
  pagerduty_events_url: ${PAGERDUTY_EVENTS_URL}
""",
)
PAGE = dedup_key("checkout-api:success_rate", "page_1h_5m", "page")


class Steady(threading.Thread):
    """Healthy traffic for STEADY (event time now) and the tail of checkout's scenario, one
    message every ``pace_s``, until stopped (bounded by ``max_s``)."""

    def __init__(self, producer: AckedProducer, tail: list[bytes], pace_s: float) -> None:
        super().__init__(daemon=True)
        self.producer, self.tail, self.pace_s = producer, tail, pace_s
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        rng = random.Random(13)
        try:
            deadline = time.monotonic() + 600
            while not self.halt.is_set() and time.monotonic() < deadline:  # bounded
                svc = rng.choice(STEADY)
                now = time.time()
                batch = [
                    {"service": svc, "ts": now - j * 0.01, "status_code": 200} for j in range(20)
                ]
                self.producer.send(svc, orjson.dumps(batch))
                if self.tail:
                    self.producer.send("checkout-api", self.tail.pop(0))
                time.sleep(self.pace_s)
        except BaseException as e:  # re-raised by stop()
            self.error = e

    def stop(self) -> None:
        self.halt.set()
        self.join(30)
        if self.error is not None:
            raise self.error


def admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap})


def replicas(bootstrap: str, topic: str) -> list[int]:
    """Replica counts of each partition of ``topic``."""
    md = admin(bootstrap).list_topics(topic, timeout=10)
    return [len(p.replicas) for p in md.topics[topic].partitions.values()]


def leader_of(bootstrap: str, topic: str, partition: int) -> int:
    md = admin(bootstrap).list_topics(topic, timeout=10)
    return int(md.topics[topic].partitions[partition].leader)


def coordinator_of(bootstrap: str, group: str) -> int:
    client = admin(bootstrap)  # held: its futures die with it
    [future] = client.describe_consumer_groups([group], request_timeout=30).values()
    return int(future.result(timeout=40).coordinator.id)


def notifications(received: Received) -> tuple[list[str], list[str]]:
    """PagerDuty actions for the page, and the Slack page messages' states, in order."""
    got = received.snapshot()
    pd = [r["body"]["event_action"] for r in got["pagerduty"] if r["body"]["dedup_key"] == PAGE]
    slack = [r["body"]["text"] for r in got["slack"]]
    return pd, [t.split(":")[0] for t in slack if "[PAGE]" in t]


def scenario() -> tuple[list[bytes], list[bytes]]:
    """Checkout's history and outage (what makes the page fire), and the healthy tail after
    it (what resolves it), as outcome messages."""
    sc = Scenario.ending_at(
        "checkout-api",
        time.time(),
        history_s=6 * 3600,
        live_s=15 * 60,
        outage_after_s=120,
        outage_s=120,
        error_every=20000,
    )
    head = list(sc.history())
    tail = []
    for t, msg in sc.live():
        (head if t <= sc.outage_end + 60 else tail).append(msg)
    return head, tail


@pytest.fixture
def cluster_worker(
    broker: Any, receivers: Received, worker: Callable[..., Worker]
) -> Iterator[tuple[Any, Worker, AckedProducer]]:
    w = worker(CONFIG)
    yield broker, w, AckedProducer(broker.bootstrap)


def fault(broker: Any, node_id: int, w: Worker) -> None:
    """kill -9 one node, let the cluster fail over until the worker sees the node gone (the
    controller fences a silent broker only after broker.session.timeout.ms, 9 s by default,
    so a fixed pause would race it), then bring it back."""
    node = next(n for n in broker.cluster.nodes if n.node_id == node_id)
    broker.cluster.kill9(node)
    time.sleep(8)
    wait_for(
        lambda: node_id in w.get("/healthz")["broker"]["brokers_missing"], 60, "node seen gone"
    )
    broker.cluster.start_node(node)


def test_three_brokers_lose_leader_and_coordinator_and_every_acknowledged_count_holds(
    cluster_worker: tuple[Any, Worker, AckedProducer], receivers: Received
) -> None:
    broker, w, producer = cluster_worker
    boot = broker.bootstrap
    for t in (topics.OUTCOMES, topics.SLI, "sloburn-buckets-changelog"):
        assert set(replicas(boot, t)) == {3}, t

    head, tail = scenario()
    for msg in head:
        producer.send("checkout-api", msg)
    producer.p.flush(60)
    wait_for(lambda: notifications(receivers)[0] == ["trigger"], 120, "the page to trigger")

    steady = Steady(producer, tail, pace_s=0.25)
    steady.start()
    pid = w.proc.pid
    leader = leader_of(boot, topics.OUTCOMES, 0)
    fault(broker, leader, w)
    wait_for(lambda: len(w.get("/healthz")["broker"]["brokers_alive"]) == 3, 90, "node back")
    coordinator = coordinator_of(boot, "sloburn")
    fault(broker, coordinator, w)
    wait_for(lambda: len(w.get("/healthz")["broker"]["brokers_alive"]) == 3, 90, "node back")
    # And the active controller: a KRaft failover keeps the cluster id, so the worker must not
    # take it for a new broker incarnation.
    controller = broker.cluster.active_controller()
    assert controller is not None
    fault(broker, controller, w)
    wait_for(lambda: len(w.get("/healthz")["broker"]["brokers_alive"]) == 3, 90, "node back")
    wait_for(lambda: not steady.tail, 120, "checkout's healthy tail to be sent")
    steady.stop()
    acked = producer.flush()

    wait_equal(lambda: counted(w), acked, 180, "every acknowledged outcome to be counted once")
    wait_for(lambda: notifications(receivers)[0] == ["trigger", "resolve"], 120, "the resolve")
    time.sleep(5)  # a duplicate count or notification would show up now
    assert counted(w) == acked
    assert notifications(receivers) == (["trigger", "resolve"], ["FIRING", "RESOLVED"])
    health = w.get("/healthz")
    assert health["status"] == "ok" and w.proc.poll() is None and w.proc.pid == pid
    assert health["broker"]["broker_departures"] >= 3 and health["broker"]["outages"] == 0
    assert "incarnation changed" not in w.log.read_text()


def test_a_worker_killed_during_a_broker_failover_leaves_the_other_with_exact_counts(
    broker: Any, worker: Callable[..., Worker]
) -> None:
    a, b = worker(CONFIG), worker(CONFIG)
    producer = AckedProducer(broker.bootstrap)
    steady = Steady(producer, [], pace_s=0.05)
    steady.start()
    time.sleep(10)
    leader = leader_of(broker.bootstrap, topics.SLI, 0)
    node = next(n for n in broker.cluster.nodes if n.node_id == leader)
    broker.cluster.kill9(node)
    time.sleep(2)
    a.kill9()
    time.sleep(6)
    broker.cluster.start_node(node)
    time.sleep(5)
    steady.stop()
    acked = producer.flush()
    wait_equal(lambda: counted(b), acked, 240, "the survivor to count every outcome once")
    time.sleep(5)
    assert counted(b) == acked
    assert "incarnation changed" not in b.log.read_text()
