"""Shared helpers: the repo root and free loopback ports."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

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
