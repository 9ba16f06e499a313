"""Apache Kafka on this machine, for tests and for `sloburn up --kafka`: fetched from Maven
Central with `mvn` into a cache folder (never into git), KRaft nodes on free loopback ports,
stopped by PID.

Java 17 and `mvn` are the only requirements; `available()` says why not when they are missing,
so the Kafka tests skip with that reason. Versions and settings here are the ones the README's
"Tested on" and docker-compose.yml name.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from streams.local.embedded_broker import free_port, wait_until_answers

KAFKA_VERSION = "4.1.1"
LOG4J_VERSION = "2.24.3"  # Kafka 4.0/4.1 log through slf4j 1.7: log4j-slf4j-impl, not slf4j2
START_TIMEOUT_S = 90.0

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.sloburn</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-api</artifactId>
      <version>{log4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>{log4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId><version>{log4j}</version></dependency>
  </dependencies>
</project>
"""

_LOG4J = """status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache
logger.apache.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
logger.raft.name = org.apache.kafka.raft.QuorumState
logger.raft.level = INFO
"""


# What org.apache.kafka.raft.QuorumState logs when a node becomes the quorum leader.
_LEADER = re.compile(r"Completed transition to Leader\(.*?\bepoch=(\d+)")


def cache_dir() -> Path:
    """Where downloads are kept across runs ($SLOBURN_CACHE, else ~/.cache/sloburn)."""
    return Path(os.environ.get("SLOBURN_CACHE") or Path.home() / ".cache" / "sloburn")


def available() -> str | None:
    """None when Kafka can be fetched and run here, else the reason it cannot."""
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            return f"{tool} is not on PATH (Apache Kafka needs Java 17+ and mvn to fetch it)"
    return None


def fetch(version: str = KAFKA_VERSION) -> Path:
    """The folder of Kafka's jars (and its logging binding), fetched once with mvn."""
    libs = cache_dir() / f"kafka-{version}" / "libs"
    done = libs.parent / ".complete"
    if done.exists():
        return libs
    build = libs.parent / "build"
    build.mkdir(parents=True, exist_ok=True)
    (build / "pom.xml").write_text(_POM.format(kafka=version, log4j=LOG4J_VERSION))
    subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
            "-DincludeScope=runtime",
        ],
        cwd=build,
        check=True,
        capture_output=True,
        timeout=900,
    )
    done.touch()
    return libs


def _cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding, not starting with
    '-' (the storage tool would read it as an option; Kafka's own Uuid.randomUuid skips those)."""
    while True:  # 1 in 64 draws starts with '-'
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


@dataclass
class KafkaNode:
    """One KRaft node (broker and controller) of a local cluster."""

    node_id: int
    port: int
    controller_port: int
    home: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.home / "server.log"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass
class KafkaCluster:
    """``nodes`` KRaft nodes in combined mode on loopback; internal topics replicated across
    all of them (3: min ISR 2). Use as a context manager, or start()/stop()."""

    workdir: Path
    nodes_count: int = 1
    version: str = KAFKA_VERSION
    nodes: list[KafkaNode] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return ",".join(n.bootstrap for n in self.nodes)

    @property
    def replication(self) -> int:
        return min(3, self.nodes_count)

    def settings(self, node: KafkaNode, voters: str) -> dict[str, object]:
        """The server.properties of ``node`` (docker-compose.yml runs the same roles)."""
        rf, isr = self.replication, 2 if self.replication >= 3 else 1
        return {
            "process.roles": "broker,controller",
            "node.id": node.node_id,
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://127.0.0.1:{node.port},"
            f"CONTROLLER://127.0.0.1:{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": node.home / "data",
            "offsets.topic.replication.factor": rf,
            "offsets.topic.num.partitions": 4,
            "transaction.state.log.replication.factor": rf,
            "transaction.state.log.min.isr": isr,
            "transaction.state.log.num.partitions": 4,
            "share.coordinator.state.topic.replication.factor": rf,
            "share.coordinator.state.topic.min.isr": isr,
            "default.replication.factor": rf,
            "min.insync.replicas": isr,
            "group.initial.rebalance.delay.ms": 0,
            "auto.create.topics.enable": "true",
        }

    def start(self) -> KafkaCluster:
        """Format every node with one cluster id, start them and wait until each serves."""
        libs = fetch(self.version)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.nodes = [
            KafkaNode(i, free_port(), free_port(), self.workdir / f"node-{i}")
            for i in range(1, self.nodes_count + 1)
        ]
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        cluster_id = _cluster_id()
        self._classpath = f"{libs}/*"
        for n in self.nodes:
            n.home.mkdir(parents=True, exist_ok=True)
            props = "".join(f"{k}={v}\n" for k, v in self.settings(n, voters).items())
            (n.home / "server.properties").write_text(props)
            (n.home / "log4j2.properties").write_text(_LOG4J.format(log=n.log))
            fmt = subprocess.run(
                [
                    *self._java(n),
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    cluster_id,
                    "-c",
                    str(n.home / "server.properties"),
                    "--ignore-formatted",
                ],
                capture_output=True,
                text=True,
                timeout=120,
            )
            if fmt.returncode != 0:
                lines = (fmt.stderr or fmt.stdout).strip().splitlines()
                # The exception's own line, not only the stack frames under it.
                said = [ln for ln in lines if "Exception" in ln or "Error" in ln][:2] or lines[-3:]
                raise RuntimeError(f"formatting kafka node {n.node_id} failed: {' / '.join(said)}")
        try:
            for n in self.nodes:
                self.start_node(n, wait=False)
            for n in self.nodes:
                self.wait_serving(n)
        except BaseException:
            self.stop()
            raise
        return self

    def _java(self, n: KafkaNode) -> list[str]:
        return [
            "java",
            "-Xmx512m",
            "-Xms128m",
            "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={n.home / 'log4j2.properties'}",
            "-cp",
            self._classpath,
        ]

    def start_node(self, n: KafkaNode, wait: bool = True) -> None:
        """Start (or restart) one node; its log is appended to."""
        n.proc = subprocess.Popen(
            [*self._java(n), "kafka.Kafka", str(n.home / "server.properties")],
            stdout=(n.home / "stdout.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if wait:
            self.wait_serving(n)

    def wait_serving(self, n: KafkaNode) -> None:
        """Until the node logs that it started and answers a metadata request."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:  # bounded
            if n.proc is not None and n.proc.poll() is not None:
                raise RuntimeError(f"kafka node {n.node_id} exited: see {n.log}")
            if n.log.exists() and "Kafka Server started" in n.log.read_text(errors="replace"):
                wait_until_answers(n.bootstrap, 30)
                return
            time.sleep(0.2)
        raise TimeoutError(f"kafka node {n.node_id} not serving after {START_TIMEOUT_S}s: {n.log}")

    def active_controller(self) -> int | None:
        """The node leading the KRaft quorum (the active controller) as the nodes' logs say:
        the one that last became leader, in the highest epoch; None if no node said so."""
        best: tuple[int, int] | None = None
        for n in self.nodes:
            text = n.log.read_text(errors="replace") if n.log.exists() else ""
            for epoch in _LEADER.findall(text):
                if best is None or int(epoch) >= best[0]:
                    best = (int(epoch), n.node_id)
        return None if best is None else best[1]

    def kill9(self, n: KafkaNode) -> None:
        """SIGKILL one node: no shutdown, no flush."""
        if n.proc is not None and n.proc.poll() is None:
            os.killpg(n.proc.pid, signal.SIGKILL)
            n.proc.wait(30)

    def stop_node(self, n: KafkaNode, timeout_s: float = 30.0) -> None:
        """SIGTERM (a controlled shutdown), then SIGKILL if it lingers."""
        if n.proc is None or n.proc.poll() is not None:
            return
        os.killpg(n.proc.pid, signal.SIGTERM)
        try:
            n.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill9(n)

    def stop(self) -> None:
        for n in self.nodes:
            self.stop_node(n)

    def __enter__(self) -> KafkaCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """``scripts/kafka``: run a local cluster until Ctrl-C or SIGTERM, then stop it by PID."""
    import argparse

    parser = argparse.ArgumentParser(prog="scripts/kafka", description=main.__doc__)
    parser.add_argument("--nodes", type=int, default=1, help="KRaft nodes (3: RF 3, min ISR 2)")
    parser.add_argument("--workdir", default=".sloburn/kafka", help="data and logs (kept)")
    args = parser.parse_args(argv)
    if (reason := available()) is not None:
        print(f"scripts/kafka: {reason}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    started = time.monotonic()
    with KafkaCluster(Path(args.workdir) / f"run-{int(time.time())}", args.nodes) as cluster:
        print(
            f"Apache Kafka {cluster.version}: {args.nodes} node(s) serving on {cluster.bootstrap} "
            f"after {time.monotonic() - started:.1f}s; logs under {cluster.workdir}; "
            "Ctrl-C stops them",
            flush=True,
        )
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
