"""Shared helpers: the repo root, the sloburn command, free loopback ports."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

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
