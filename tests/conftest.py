"""Shared helpers: the repo root, the sloburn command, free loopback ports; and the count of
end-to-end tests per broker."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from streams.local import kafka_cluster

ROOT = Path(__file__).resolve().parents[1]


def sloburn(
    *args: str, timeout: float = 60, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run this checkout's ``sloburn`` command from the repo root; its output as text."""
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )


# The three mistakes issue 2 names: an unknown sli_type, a target of 1.2 and a missing window.
BAD_SERVICE_MAP = """\
services:
  checkout-api:
    sli_type: availability
    target: 1.2
    window_days: 30
    alerts:
      fast_burn:
        threshold: 14.4
"""


@pytest.fixture
def repo_root() -> Path:
    return ROOT


# End-to-end tests run per broker (tests/e2e/conftest.py); their ids end in [embedded], [kafka]
# or [kafka-3]. The summary says how many ran on each, and a run where Java and mvn exist but
# a Kafka test was skipped fails: the Kafka variants must not go quietly missing.
_BROKER_ID = re.compile(r"\[(embedded|kafka|kafka-3)\]$")
_per_broker: dict[str, Counter[str]] = {}
_seconds: dict[str, float] = {}  # setup, call and teardown, per broker


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    m = _BROKER_ID.search(report.nodeid)
    if m is None:
        return
    _seconds[m.group(1)] = _seconds.get(m.group(1), 0.0) + report.duration
    if report.when == "teardown" or (report.when, report.outcome) == ("setup", "passed"):
        return
    failed_setup = (report.when, report.outcome) == ("setup", "failed")
    _per_broker.setdefault(m.group(1), Counter())["error" if failed_setup else report.outcome] += 1


def _kafka_skipped() -> int:
    return sum(_per_broker.get(k, Counter())["skipped"] for k in ("kafka", "kafka-3"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _kafka_skipped() and kafka_cluster.available() is None and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _per_broker:
        return
    tr = terminalreporter
    tr.section("end-to-end tests per broker")
    for kind in ("embedded", "kafka", "kafka-3"):
        c = _per_broker.get(kind)
        if c:
            counts = ", ".join(f"{n} {o}" for o, n in sorted(c.items()))
            tr.write_line(f"{kind:>9}: {counts} in {_seconds.get(kind, 0.0):.0f}s")
    if _kafka_skipped():
        reason = kafka_cluster.available()
        if reason is None:
            tr.write_line("FAILED: Kafka tests were skipped although java and mvn are here")
        else:
            tr.write_line(f"Kafka tests skipped: {reason}")
