"""Headless Chromium on the worker's page: the page's end-to-end test and its benchmark drive
the same browser the same way."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1000",
)


def chromium(url: str, *args: str, budget_ms: int = 10_000) -> str:
    """Run headless Chromium on ``url`` (JS runs within a virtual-time budget of ``budget_ms``)
    and return what it printed (``--dump-dom``: the DOM after the scripts ran)."""
    if CHROMIUM is None:
        raise RuntimeError("chromium is not installed (scripts/test installs it)")
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [
                CHROMIUM,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--virtual-time-budget={budget_ms}",
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


def ready_ms(url: str, attribute: str = "data-ready-ms", timeout_s: float = 60.0) -> float:
    """Milliseconds from navigation start until the page at ``url`` set ``attribute`` on its
    body (to ``performance.now()``): the page's own clock, read over the DevTools protocol,
    so neither Chromium's start nor this harness is in the measure (wall time around a whole
    ``chromium`` run varied by 0.7 s from run to run)."""
    if CHROMIUM is None:
        raise RuntimeError("chromium is not installed (scripts/test installs it)")
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            port = _devtools_port(Path(profile), proc, timeout_s)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                pages = [t for t in json.loads(r.read()) if t["type"] == "page"]
            return asyncio.run(_stamp(pages[0]["webSocketDebuggerUrl"], attribute, timeout_s))
        finally:
            os.killpg(proc.pid, signal.SIGKILL)  # the browser and its renderers
            proc.wait(10)


def _devtools_port(profile: Path, proc: subprocess.Popen[bytes], timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        f = profile / "DevToolsActivePort"
        if f.exists() and f.read_text().strip():
            return int(f.read_text().split()[0])
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited {proc.returncode} before DevTools listened")
        time.sleep(0.05)
    raise TimeoutError("chromium's DevTools port did not appear")


async def _stamp(ws_url: str, attribute: str, timeout_s: float) -> float:
    expression = f"document.body && document.body.getAttribute({json.dumps(attribute)})"
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url) as ws:
        for i in range(1, int(timeout_s / 0.05) + 1):
            params = {"expression": expression, "returnByValue": True}
            await ws.send_json({"id": i, "method": "Runtime.evaluate", "params": params})
            for _ in range(1000):  # events from the page may come before the answer
                answer = await ws.receive_json(timeout=10)
                if answer.get("id") == i:
                    break
            value = answer.get("result", {}).get("result", {}).get("value")
            if value:
                return float(value)
            await asyncio.sleep(0.05)
    raise TimeoutError(f"the page did not set {attribute} within {timeout_s} s")
