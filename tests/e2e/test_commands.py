"""Commands a user types: `scripts/run --once`, and the worker refusing a bad config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.e2e

BAD_CONFIG = """
services:
  checkout-api:
    sli_type: availability
    target: 1.2
    window_days: 30
    alerts:
      fast_burn:
        threshold: 14.4
"""


def test_worker_with_a_bad_config_exits_nonzero_naming_file_field_and_expectation(
    tmp_path: Path, repo_root: Path
) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(BAD_CONFIG)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "worker",
            "--config",
            str(cfg),
            "--broker",
            f"127.0.0.1:{free_port()}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=repo_root,
    )
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
