"""Headless Chromium on the worker's page: the page's end-to-end test and its benchmark drive
the same browser the same way."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(url: str, *args: str, budget_ms: int = 10_000) -> str:
    """Run headless Chromium on ``url`` (JS runs within a virtual-time budget of ``budget_ms``)
    and return what it printed (``--dump-dom``: the DOM after the scripts ran)."""
    if CHROMIUM is None:
        raise RuntimeError("chromium is not installed (scripts/test installs it)")
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                f"--virtual-time-budget={budget_ms}",
                "--window-size=1280,1000",
                *args,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"chromium exited {proc.returncode}: {proc.stderr[-2000:]}")
    return proc.stdout
