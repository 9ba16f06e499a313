"""The onboarding guide's examples (examples/onboarding, README "Cover your own service") run
as written: each sends 100 outcomes of its own service, 3 of them failed, with the common
Kafka client of its language, and the worker counts exactly those. A language whose toolchain
is not on the machine is skipped, and says so."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from streams.local.kafka_cluster import fetch
from tests.e2e.conftest import Worker, wait_for

pytestmark = [pytest.mark.e2e]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "onboarding"
LANGUAGES = ("python", "go", "node", "java")
CONFIG = (
    "services:\n"
    + "".join(
        f"  {lang}-service:\n    sli_type: success_rate\n    target: 0.99\n    window_days: 30\n"
        for lang in LANGUAGES
    )
    + "settings:\n  partitions: 4\n"
)


def commands(lang: str) -> list[list[str]] | None:
    """How the guide runs the example (set-up first); None when the toolchain is missing."""
    if lang == "python":
        return [[sys.executable, "send.py"]]
    if lang == "go":
        return [["go", "run", "."]] if shutil.which("go") else None
    if lang == "node":
        if not (shutil.which("node") and shutil.which("npm")):
            return None
        return [["npm", "ci", "--no-audit", "--no-fund"], ["node", "send.js"]]
    if shutil.which("java") is None:
        return None
    return [["java", "-cp", f"{fetch()}/*", "SendOutcomes.java"]]


@pytest.mark.brokers("kafka")
def test_each_onboarding_example_is_counted_exactly(
    broker: object, worker: Callable[..., Worker]
) -> None:
    w = worker(CONFIG)
    bootstrap = broker.bootstrap  # type: ignore[attr-defined]
    repo = str(EXAMPLES.parents[1])
    missing = []
    for lang in LANGUAGES:
        steps = commands(lang)
        if steps is None:
            missing.append(lang)
            continue
        env = {
            **os.environ,
            "SLOBURN_BROKERS": bootstrap,
            "SERVICE": f"{lang}-service",
            "PYTHONPATH": repo,
        }
        for cmd in steps:
            ran = subprocess.run(
                cmd, cwd=EXAMPLES / lang, env=env, capture_output=True, text=True, timeout=600
            )
            assert ran.returncode == 0, (lang, cmd, ran.stdout[-2000:], ran.stderr[-4000:])
        assert ran.stdout.strip() == f"sent 100 outcomes of {lang}-service", (lang, ran.stdout)
        slo = f"/v1/slos/{lang}-service:success_rate"
        wait_for(lambda s=slo: w.get(s).get("budget", {}).get("total") == 100, 60, lang)
        assert w.get(slo)["budget"]["bad"] == 3, lang
    if missing:
        pytest.skip(f"no toolchain for {', '.join(missing)} here; the others ran")
