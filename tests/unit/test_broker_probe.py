"""Which broker is it: decided by the broker's ApiVersions answer, not by its address; and the
incarnation watch does not take an answer without a cluster id for a new broker."""

from __future__ import annotations

import asyncio

import pytest

from streams.config.kafka_security import KafkaSecurity
from streams.kafka import broker_watch
from streams.kafka.broker_probe import BrokerInfo, kind_from_api_keys
from streams.kafka.broker_watch import BrokerView, BrokerWatch
from streams.worker.run import tansu_compat

# The API keys each broker advertised on this machine (ApiVersions v0 answers, 2026-11-29).
TANSU_0_6 = [0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 24, 25, 26]
TANSU_0_6 += [28, 29, 30, 32, 36, 42, 44, 46, 50, 51, 60, 69, 71, 75]
KAFKA_4_1 = [0, 1, 2, 3, *range(8, 52), 55, 57, 60, 61, 64, 65, 66, 68, 69, 74, 75, 76, 77]
KAFKA_4_1 += [78, 79, 80, 81, 83, 84, 85, 86, 87, 90, 91, 92]


def test_the_embedded_broker_and_apache_kafka_are_told_apart_by_their_apis() -> None:
    assert kind_from_api_keys(TANSU_0_6) == "embedded"
    assert kind_from_api_keys(KAFKA_4_1) == "kafka"
    # Either API alone is not enough to be taken for Kafka.
    assert kind_from_api_keys([*TANSU_0_6, 23]) == "embedded"
    assert kind_from_api_keys([*TANSU_0_6, 27]) == "embedded"
    assert kind_from_api_keys([]) == "embedded"


@pytest.mark.parametrize(
    ("kind", "brokers", "replicas"),
    [("embedded", 1, 1), ("kafka", 1, 1), ("kafka", 2, 2), ("kafka", 3, 3), ("kafka", 9, 3)],
)
def test_default_replication_follows_the_cluster(kind: str, brokers: int, replicas: int) -> None:
    assert BrokerInfo(kind, "id", brokers).default_replication() == replicas  # type: ignore[arg-type]


def test_the_recovery_shim_follows_the_broker_kind_not_its_address() -> None:
    kafka, embedded = BrokerInfo("kafka", "c", 1), BrokerInfo("embedded", "c", 1)
    assert tansu_compat("auto", embedded) and not tansu_compat("auto", kafka)
    assert tansu_compat("tansu", kafka) and not tansu_compat("none", embedded)


def test_an_answer_without_cluster_id_is_not_a_new_incarnation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = iter(["c1", "", "c1", "c2"])

    async def look(client: object, names: object) -> BrokerView:
        return BrokerView(next(answers), ())

    async def connected(self: BrokerWatch) -> object:
        return object()

    monkeypatch.setattr(broker_watch, "look", look)
    monkeypatch.setattr(BrokerWatch, "_connected", connected)
    watch = BrokerWatch("127.0.0.1:1", KafkaSecurity(), 4)

    async def run() -> list[tuple[str | None, bool]]:
        seen = []
        for _ in range(4):
            await watch.check()
            seen.append((watch.cluster_id, watch.replaced))
        return seen

    assert asyncio.run(run()) == [("c1", False), ("c1", False), ("c1", False), ("c2", True)]


def test_a_broker_leaving_a_cluster_is_noted_and_its_return_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = iter([(1, 2, 3), (1, 3), (1, 3), (1, 2, 3)])

    async def look(client: object, names: object) -> BrokerView:
        return BrokerView("c1", (), next(answers))

    async def connected(self: BrokerWatch) -> object:
        return object()

    monkeypatch.setattr(broker_watch, "look", look)
    monkeypatch.setattr(BrokerWatch, "_connected", connected)
    watch = BrokerWatch("127.0.0.1:1", KafkaSecurity(), 4)

    async def run() -> list[dict[str, object]]:
        seen = []
        for _ in range(4):
            await watch.check()
            seen.append(watch.cluster_health())
        return seen

    seen = asyncio.run(run())
    assert [s["brokers_missing"] for s in seen] == [[], [2], [2], []]
    assert [s["broker_departures"] for s in seen] == [0, 1, 1, 1]
    assert seen[1]["brokers_alive"] == [1, 3] and watch.up and watch.outages == 0
