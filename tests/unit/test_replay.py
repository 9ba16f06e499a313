"""Replay: deterministic files from the worker's own code, checked against brute force."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from streams.config.alert_policy import load_alert_policy
from streams.config.loading import load_config
from streams.core.slo import BASE_WINDOW_MAX_S
from streams.local.traffic import EXAMPLE_START, example_history
from streams.replay.engine import InProcess, replay_file, replay_incidents
from streams.state.blocks import ROLLUP_S, floor_to
from tests.conftest import sloburn

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
        res = 10 if w <= BASE_WINDOW_MAX_S else ROLLUP_S  # 10-s buckets or 15-minute cells
        # Events up to t (those the replay applied before evaluating at t), by cell start.
        mine = [
            e
            for e in events
            if e["service"] == r["service"] and e["ts"] <= t and t - w < floor_to(e["ts"], res) <= t
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


def backtest(*policies: str) -> subprocess.CompletedProcess[str]:
    args = ["backtest", str(EXAMPLE), "--config", str(CONFIG)]
    for p in policies:
        args += ["--policy", p]
    return sloburn(*args, timeout=300)


def test_a_policy_equal_to_the_defaults_reproduces_the_plain_replay(tmp_path: Path) -> None:
    # checkout-api has no rules of its own (so it alerts by the Workbook set); workbook.yaml
    # restates that set, so its incidents must be exactly those of the plain replay.
    cfg = load_config([CONFIG], env={})
    checkout_only = replace(cfg, slos=tuple(s for s in cfg.slos if s.service == "checkout-api"))
    policy = load_alert_policy(ROOT / "configs" / "policies" / "workbook.yaml", 10)
    assert policy.rules == checkout_only.slos[0].alerts
    plain = replay_incidents(EXAMPLE, checkout_only, 60, now=2e9)
    tried = replay_incidents(EXAMPLE, policy.apply(checkout_only), 60, now=2e9)
    assert tried.incidents == plain.incidents
    assert (
        tried.counts
        == plain.counts
        == {("checkout-api:success_rate", "page"): 3, ("checkout-api:success_rate", "ticket"): 4}
    )


@pytest.fixture(scope="module")
def two_policies() -> subprocess.CompletedProcess[str]:
    proc = backtest("configs/policies/workbook.yaml", "configs/policies/seed-single-window.yaml")
    assert proc.returncode == 0, proc.stderr
    return proc


def test_backtest_puts_policies_side_by_side_per_incident(
    two_policies: subprocess.CompletedProcess[str],
) -> None:
    lines = two_policies.stdout.splitlines()
    assert lines[0].split()[-2:] == ["workbook", "seed-single-window"]
    episodes = [line for line in lines[2:] if line.startswith(("checkout-api:", "search-api:"))]
    assert [(e.split()[0], e.split()[1]) for e in episodes] == [
        ("checkout-api:success_rate", "2026-11-09"),
        ("checkout-api:success_rate", "2026-11-11"),
        ("search-api:latency", "2026-11-13"),
    ]
    # The seed's 1-hour, 6x rule sees the 1.2 % slow burn at once; the Workbook's first alert
    # on it is the 3d/6h ticket, 20 minutes in (its pages wait for 6h of burn at 12x).
    second = episodes[1].split()
    assert second[3:5] == ["20m00s", "1.9%"]
    assert second[6] == "0m00s"
    assert lines[-2].split() == ["pages", "4", "5"]
    assert lines[-1].split() == ["tickets", "6", "3"]


def test_backtest_with_a_bad_policy_names_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("alerts:\n  fast: {threshold: 14.4}\n")
    proc = backtest(str(bad))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"config error: {bad}: alerts.fast.window_minutes: required field is missing"
    ]


def readme_block(command_prefix: str) -> str:
    """The output the README shows under the `$ <command>` line starting with the prefix."""
    text = (ROOT / "README.md").read_text()
    start = text.index(f"$ {command_prefix}")
    body = text[text.index("\n", start) + 1 :]
    return body[: body.index("```")].rstrip("\n")


def test_readme_shows_the_real_replay_output(replayed: tuple[Path, str]) -> None:
    _, summary = replayed
    assert readme_block("sloburn replay examples/outages.jsonl") == summary


def test_readme_shows_the_real_backtest_output(
    two_policies: subprocess.CompletedProcess[str],
) -> None:
    assert readme_block("sloburn backtest examples/outages.jsonl") == two_policies.stdout.rstrip(
        "\n"
    )


def test_bench_command_answers() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == 0
    assert "replay" in proc.stdout
