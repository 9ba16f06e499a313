"""Replay: deterministic files from the worker's own code, checked against brute force."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from streams.buckets import ROLLUP_S, floor_to
from streams.config import load_config
from streams.replay import InProcess, replay_file
from streams.traffic import EXAMPLE_START, example_history

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "outages.jsonl"
CONFIG = ROOT / "configs" / "slo_config.yaml"


def read(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("replay")
    cfg = load_config([CONFIG], env={})
    summary = replay_file(
        EXAMPLE, cfg, out, 60, InProcess(cfg, now=2e9), now=2e9, show_progress=False
    )
    return out, summary


def test_the_shipped_example_is_exactly_what_its_generator_makes() -> None:
    assert EXAMPLE.read_bytes() == b"".join(line + b"\n" for line in example_history())


def test_replaying_the_same_file_twice_writes_byte_identical_files(tmp_path: Path) -> None:
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "streams.cli",
                "replay",
                str(EXAMPLE),
                "--config",
                str(CONFIG),
                "--out",
                str(out),
            ],
            capture_output=True,
            timeout=120,
            cwd=ROOT,
        )
        assert proc.returncode == 0, proc.stderr
    for name in ("alerts.jsonl", "burn_rates.jsonl", "budgets.jsonl"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
        assert (outs[0] / name).stat().st_size > 0


def test_the_10_minute_outage_pages_when_its_first_5_minute_count_arrives(
    replayed: tuple[Path, str],
) -> None:
    out, _ = replayed
    alerts = read(out / "alerts.jsonl")
    # The outage starts on day 9 at 10:00; its first 5-minute count is stamped 10:05.
    first = alerts[0]
    assert first == {
        "slo": "checkout-api:success_rate",
        "service": "checkout-api",
        "rule": "page_1h_5m",
        "severity": "page",
        "state": "firing",
        "ts": EXAMPLE_START + 8 * 86400 + 10 * 3600 + 300,
    }
    # Every firing is followed by exactly one resolve of the same rule.
    open_rules: set[tuple[str, str]] = set()
    for a in alerts:
        key = (a["slo"], a["rule"])
        assert (key in open_rules) == (a["state"] == "resolved"), a
        (open_rules.add if a["state"] == "firing" else open_rules.discard)(key)
    assert not open_rules


def test_burn_rate_rows_equal_brute_force_sums_over_the_file(replayed: tuple[Path, str]) -> None:
    out, _ = replayed
    events = [orjson.loads(line) for line in EXAMPLE.read_bytes().splitlines()]
    rows = read(out / "burn_rates.jsonl")
    sample = rows[:: max(1, len(rows) // 400)]  # ~400 rows across the whole timeline
    for r in sample:
        t, w = r["ts"], r["window_s"]
        mine = [
            e for e in events if e["service"] == r["service"] and t - w < floor_to(e["ts"], 10) <= t
        ]
        bad = sum(e["total"] - e["good"] for e in mine)
        total = sum(e["total"] for e in mine)
        assert (r["bad"], r["total"]) == (bad, total), r
        target = 0.999 if r["service"] == "checkout-api" else 0.99
        expected_burn = bad / total / (1 - target) if total else 0.0
        assert r["burn_rate"] == pytest.approx(expected_burn, rel=1e-12)


def test_budget_rows_equal_brute_force_over_the_30_day_window(replayed: tuple[Path, str]) -> None:
    out, _ = replayed
    events = [orjson.loads(line) for line in EXAMPLE.read_bytes().splitlines()]
    rows = read(out / "budgets.jsonl")
    for r in rows[:: max(1, len(rows) // 200)]:
        t = r["ts"]
        days = 30 if r["service"] == "checkout-api" else 28
        target = 0.999 if r["service"] == "checkout-api" else 0.99
        # Replay evaluates t before any later event exists, even one in the same roll-up cell.
        mine = [
            e
            for e in events
            if e["service"] == r["service"]
            and e["ts"] <= t
            and t - days * 86400 < floor_to(e["ts"], ROLLUP_S) <= t
        ]
        bad = sum(e["total"] - e["good"] for e in mine)
        total = sum(e["total"] for e in mine)
        consumed = bad / ((1 - target) * total)
        assert r["consumed"] == pytest.approx(consumed, rel=1e-12), r
        assert r["remaining"] == pytest.approx(1 - consumed, rel=1e-12, abs=1e-12)


def test_summary_lists_each_incident_with_detection_and_reset(replayed: tuple[Path, str]) -> None:
    _, summary = replayed
    lines = summary.splitlines()
    assert lines[0].split()[:3] == ["SLO", "burn", "onset"]
    incidents = [
        line
        for line in lines[1:]
        if line.startswith(("checkout-api:", "search-api:")) and "(" in line
    ]
    assert [line.split()[0] for line in incidents] == [
        "checkout-api:success_rate",
        "checkout-api:success_rate",
        "search-api:latency",
    ]
    assert "checkout-api:success_rate: 3 pages, 4 tickets" in lines
    assert "search-api:latency: 1 page, 1 ticket" in lines
    assert lines[-1].endswith("rejected outcomes: 0")
