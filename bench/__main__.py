"""Benchmarks (``scripts/bench``): measured figures, printed as a table and kept in
bench/results.json. Never timed assertions in tests."""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.eval import bench_fleet, bench_memory, bench_tick
from bench.fleet_page import bench_fleet_page
from bench.otlp import bench_otlp
from bench.page import bench_time_to_page
from bench.pipeline import bench_guarantees, bench_pipeline
from bench.soak import soak
from streams.local.traffic import Trouble, synthetic_history

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"
REPLAY_START = 1_790_812_800  # 2026-10-01T00:00:00Z
REPLAY_SERVICES = ("checkout-api", "search-api", "payment-gateway")


def make_replay_file(path: Path) -> int:
    """30 days of 10-second good/total counts for three services; returns the line count."""
    troubles = (
        Trouble("checkout-api", REPLAY_START + 9 * 86400, 900, 1.0),
        Trouble("search-api", REPLAY_START + 17 * 86400, 6 * 3600, 0.05),
        Trouble("payment-gateway", REPLAY_START + 24 * 86400, 3600, 0.02),
    )
    n = 0
    with open(path, "wb") as f:
        for line in synthetic_history(REPLAY_SERVICES, REPLAY_START, 30, 10, troubles, 200):
            f.write(line + b"\n")
            n += 1
    return n


def bench_replay(workdir: Path) -> dict[str, Any]:
    """Seconds and peak RSS of an in-process replay of a 30-day, 10-s, 3-service file."""
    workdir.mkdir(parents=True, exist_ok=True)
    events = workdir / "replay-30d-10s-3svc.jsonl"
    print(f"writing {events.name} ...", flush=True)
    lines = make_replay_file(events)
    peak_file = workdir / "replay-peak-kib"
    cmd = [
        sys.executable,
        "-m",
        "bench.peak",
        str(peak_file),
        "streams.cli",
        "replay",
        str(events),
        "--config",
        str(ROOT / "configs" / "slo_config.yaml"),
        "--config",
        str(ROOT / "configs" / "error-budget-policy.yaml"),
        "--out",
        str(workdir / "replay-out"),
    ]
    started = time.perf_counter()
    # stderr passes through: the replay's progress (a bar on a TTY, lines otherwise).
    # The replay's own peak (bench.peak), not one inherited from this process through fork.
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT, check=False)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"replay failed with exit code {proc.returncode}")
    stdout = proc.stdout
    peak_kib = int(peak_file.read_text())
    return {
        "lines": lines,
        "file_mib": round(events.stat().st_size / 2**20, 1),
        "seconds": round(seconds, 2),
        "lines_per_second": round(lines / seconds),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "summary": stdout.strip().splitlines()[-1],
    }


def bench_soak(workdir: Path, seconds: float = 180.0, rate: int = 20_000) -> dict[str, Any]:
    """RSS and lag of one worker under ``rate`` outcomes/s for ``seconds`` (bench.soak)."""
    config = [str(ROOT / "configs" / n) for n in ("slo_config.yaml", "error-budget-policy.yaml")]
    print(f"soak: {rate} outcomes/s for {seconds:.0f}s, sampling every 5s ...", flush=True)
    return soak(config, seconds, rate)


def bench_pipeline_(workdir: Path) -> dict[str, Any]:
    """Throughput of one worker against the aiokafka and Faust ceilings (bench.pipeline)."""
    return bench_pipeline(workdir)


def bench_guarantee(workdir: Path) -> dict[str, Any]:
    """On Apache Kafka: offset dedup alone vs Kafka transactions (exactly_once) on top."""
    return bench_guarantees(workdir)


def bench_evaluation(workdir: Path) -> dict[str, Any]:
    """CPU time of an evaluation tick over 1,000 SLOs (bench.eval)."""
    return bench_tick()


def bench_fleet_(workdir: Path) -> dict[str, Any]:
    """An evaluation tick and the memory of 10,000 SLOs, a tenth of them live (bench.eval)."""
    return bench_fleet()


def bench_memory_(workdir: Path) -> dict[str, Any]:
    """Bucket memory per SLO after 30 days at 10-s buckets, at two traffic levels."""
    return bench_memory(n_slos=5, days=30)


def bench_page(workdir: Path) -> dict[str, Any]:
    """Time to page over 20 staggered live outages (bench.page)."""
    return bench_time_to_page()


def bench_page_fleet(workdir: Path) -> dict[str, Any]:
    """Time to page over 20 staggered live outages among 10,000 SLOs (bench.page)."""
    return bench_time_to_page(fleet=10_000)


def bench_fleet_page_(workdir: Path) -> dict[str, Any]:
    """The fleet list with 2,000 SLOs: /v1/fleet and time to a usable page (bench.fleet_page)."""
    return bench_fleet_page()


def bench_otlp_(workdir: Path) -> dict[str, Any]:
    """Spans/s of one sloburn otlp process against a bare protobuf decode (bench.otlp)."""
    return bench_otlp(workdir)


BENCHES = {
    "pipeline": bench_pipeline_,
    "otlp": bench_otlp_,
    "page": bench_page,
    "page-fleet": bench_page_fleet,
    "fleet-page": bench_fleet_page_,
    "guarantee": bench_guarantee,
    "evaluation": bench_evaluation,
    "memory": bench_memory_,
    "fleet": bench_fleet_,
    "replay": bench_replay,
    "soak": bench_soak,
}


def main(argv: list[str] | None = None) -> int:
    """Run the named benchmarks (all by default), print them and merge into results.json."""
    p = argparse.ArgumentParser(prog="scripts/bench")
    p.add_argument("names", nargs="*", help=f"any of {sorted(BENCHES)} (default: all)")
    p.add_argument("--workdir", default=str(ROOT / "bench" / "work"))
    p.add_argument("--soak-seconds", type=float, default=180.0)
    p.add_argument("--soak-rate", type=int, default=20_000, help="outcomes per second")
    args = p.parse_args(argv)
    options: dict[str, dict[str, Any]] = {
        "soak": {"seconds": args.soak_seconds, "rate": args.soak_rate}
    }
    names = args.names or list(BENCHES)
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in names:
        print(f"== {name}", flush=True)
        figures = BENCHES[name](Path(args.workdir), **options.get(name, {}))
        figures["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        figures["machine"] = f"{platform.machine()}, {platform.python_version()}"
        results[name] = figures
        width = max(len(k) for k in figures)
        for k, v in figures.items():
            if not isinstance(v, list):  # series stay in results.json
                print(f"  {k:<{width}}  {v}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
