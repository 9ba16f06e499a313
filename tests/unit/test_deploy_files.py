"""docker-compose.yml, Prometheus and Grafana files: consistent with the code and the repo."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from streams.local import kafka_cluster
from streams.runtime.metrics import Metrics
from tests.conftest import sloburn

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_kafka_the_worker_prometheus_and_grafana_on_loopback_ports() -> None:
    services = COMPOSE["services"]
    assert set(services) == {"kafka", "worker", "prometheus", "grafana"}
    ports = {name: s.get("ports", []) for name, s in services.items()}
    assert ports == {
        "kafka": ["127.0.0.1:9092:9092"],
        "worker": ["127.0.0.1:6066:6066"],
        "prometheus": ["127.0.0.1:9090:9090"],
        "grafana": ["127.0.0.1:3000:3000"],
    }
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert (ROOT / services["worker"]["build"] / "Dockerfile").is_file()


def test_compose_runs_the_kafka_version_and_kraft_roles_the_kafka_tests_start() -> None:
    kafka = COMPOSE["services"]["kafka"]
    assert kafka["image"] == f"apache/kafka:{kafka_cluster.KAFKA_VERSION}"
    env = kafka["environment"]
    node = kafka_cluster.KafkaNode(1, 9092, 9093, ROOT)
    tested = kafka_cluster.KafkaCluster(ROOT, 1).settings(node, "1@kafka:9093")
    for key in ("process.roles", "controller.listener.names", "listener.security.protocol.map"):
        env_key = "KAFKA_" + key.replace(".", "_").upper()
        assert set(env[env_key].split(",")) == set(str(tested[key]).split(",")), key


def test_every_path_compose_mounts_exists_in_the_repo() -> None:
    mounts = [v.split(":")[0] for s in COMPOSE["services"].values() for v in s.get("volumes", [])]
    local = [m for m in mounts if m.startswith("./")]
    assert local, mounts
    for m in local:
        assert (ROOT / m).exists(), m


@pytest.mark.skipif(
    subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0
    if shutil.which("docker")
    else True,
    reason="the docker compose plugin is not installed here",
)
def test_docker_compose_config_validates() -> None:
    proc = subprocess.run(
        ["docker", "compose", "-f", "docker-compose.yml", "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


def test_prometheus_scrapes_the_worker_and_loads_current_rules() -> None:
    prom = yaml.safe_load((ROOT / "configs" / "prometheus" / "prometheus.yml").read_text())
    targets = prom["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == ["worker:6066"]
    fresh = sloburn(
        "rules",
        "configs/slo_config.yaml",
        "configs/error-budget-policy.yaml",
        env={"PATH": "/usr/bin:/bin"},
    )
    assert fresh.returncode == 0, fresh.stderr
    committed = (ROOT / "configs" / "prometheus" / "sloburn-rules.yml").read_text()
    assert committed == fresh.stdout, "regenerate configs/prometheus/sloburn-rules.yml"


def test_every_metric_the_dashboard_queries_is_one_the_worker_exports() -> None:
    dash = json.loads((ROOT / "configs" / "grafana" / "dashboards" / "sloburn.json").read_text())
    exported = {m.name for m in Metrics().registry.collect()}
    exported |= {f"{n}_total" for n in exported}  # counters are exposed with _total
    queried = {
        name
        for p in dash["panels"]
        for t in p["targets"]
        for name in re.findall(r"\bsloburn_[a-z_]+", t["expr"])
    }
    assert queried and queried <= exported, queried - exported
    titles = [p["title"] for p in dash["panels"]]
    for needed in (
        "Error budget remaining",
        "Burn-down over the SLO window",
        "Burn rate",
        "Firing alerts",
        "Gate decision",
    ):
        assert any(t.startswith(needed) for t in titles), needed
