"""SIGTERM stops every sloburn command cleanly: exit 0, and no process, port or temporary
directory it started is left behind (checked through /proc and by binding the ports)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streams.local.embedded_broker import free_port
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


def children_of(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (from /proc's parent links)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, parent in parents.items() if parent == p]
        found.update(kids)
        todo.extend(kids)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def port_free(port: int) -> bool:
    """Nothing listens on ``port`` (connections of the old server in TIME_WAIT may remain:
    SO_REUSEADDR lets a new server bind past them, as every server here does)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start(args: list[str], cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "streams.cli", *args],
        cwd=cwd,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def wait_for_log(proc: subprocess.Popen[bytes], log: Path, text: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:  # bounded
        if text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.25)
    proc.kill()
    pytest.fail(f"no {text!r} in {log.name}:\n{log.read_text(errors='replace')[-3000:]}")


def terminate_and_check(
    proc: subprocess.Popen[bytes], ports: list[int], log: Path, min_children: int
) -> None:
    kids = children_of(proc.pid)
    assert len(kids) >= min_children, kids
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(60)
    except subprocess.TimeoutExpired:
        for pid in kids | {proc.pid}:
            os.kill(pid, signal.SIGKILL)
        pytest.fail("still running 60 s after SIGTERM")
    print(log.read_text(errors="replace")[-3000:])
    assert code == 0
    deadline = time.monotonic() + 10  # children may take a moment to be reaped by init
    while any(alive(k) for k in kids) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [k for k in kids if alive(k)]
    for pid in left:
        with contextlib.suppress(OSError):  # say which child stayed, then stop it
            print(pid, Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:300])
        os.kill(pid, signal.SIGKILL)
    assert left == []
    assert all(port_free(p) for p in ports), ports


def test_sigterm_stops_the_broker_and_its_tansu_child(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "broker.out"
    proc = start(["broker", "--port", str(port)], ROOT, dict(os.environ), log)
    wait_for_log(proc, log, "listening on", 60)
    terminate_and_check(proc, [port], log, min_children=1)


def test_sigterm_stops_the_worker_and_frees_its_port(tmp_path: Path) -> None:
    bport, wport = free_port(), free_port()
    blog, wlog = tmp_path / "broker.out", tmp_path / "worker.out"
    broker = start(["broker", "--port", str(bport)], ROOT, dict(os.environ), blog)
    try:
        wait_for_log(broker, blog, "listening on", 60)
        args = ["worker", "--broker", f"127.0.0.1:{bport}", "--web-port", str(wport)]
        args += ["--data-dir", str(tmp_path / "data")]
        worker = start(args, ROOT, dict(os.environ), wlog)
        wait_for_log(worker, wlog, "worker ready", 120)
        terminate_and_check(worker, [wport], wlog, min_children=0)
    finally:
        broker.send_signal(signal.SIGTERM)
        broker.wait(30)


def test_sigterm_stops_up_run_outside_the_repository_with_everything_it_started(
    tmp_path: Path,
) -> None:
    bport, wport = free_port(), free_port()
    log = tmp_path / "up.out"
    args = ["up", "--broker-port", str(bport), "--web-port", str(wport)]
    proc = start(args, tmp_path, dict(os.environ), log)  # cwd: no configs/ here
    wait_for_log(proc, log, "worker ready", 180)
    terminate_and_check(proc, [bport, wport], log, min_children=2)
    assert (tmp_path / ".sloburn" / "worker.log").exists()


def test_sigterm_stops_replay_via_broker_and_removes_its_temporary_directory(
    tmp_path: Path,
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    log = tmp_path / "replay.out"
    args = ["replay", str(ROOT / "examples" / "outages.jsonl"), "--via-broker"]
    args += ["--out", str(tmp_path / "out.jsonl")]
    proc = start(args, ROOT, {**os.environ, "TMPDIR": str(tmp)}, log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(children_of(proc.pid)) < 2:  # broker + worker
        time.sleep(0.25)
    assert list(tmp.iterdir()), "no temporary directory was made"
    terminate_and_check(proc, [], log, min_children=2)
    assert list(tmp.iterdir()) == []
