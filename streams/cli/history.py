"""History commands: replay a file of outcomes (alert timeline, budgets) and backtest alert
policies against it."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from streams.cli.common import config_paths, history_args, load, print_config_errors


def cmd_replay(args: argparse.Namespace) -> int:
    from streams.config.model import Config
    from streams.replay.engine import InProcess, replay_file

    cfg = load(config_paths(args.config))
    assert isinstance(cfg, Config)
    path = Path(args.events)
    if not path.is_file():
        print(f"replay: {path}: no such file", file=sys.stderr)
        return 1
    now = time.time()
    if args.via_broker:
        if args.exclusions:
            print("replay: --exclusions works in-process only", file=sys.stderr)
            return 1
        from streams.local.replay_via_broker import via_broker

        summary = via_broker(path, config_paths(args.config), cfg, Path(args.out), args.every, now)
    else:
        backend = InProcess(cfg, now)
        if args.exclusions:
            from streams.core.exclusions import read_exclusions

            try:
                backend.evaluator.exclusions = read_exclusions(Path(args.exclusions))
            except (OSError, ValueError) as e:
                print(f"replay: {args.exclusions}: {e}", file=sys.stderr)
                return 1
        summary = replay_file(path, cfg, Path(args.out), args.every, backend, now)
    print(summary)
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from streams.config.alert_policy import load_alert_policy
    from streams.config.errors import ConfigError
    from streams.config.model import Config
    from streams.replay.engine import replay_incidents
    from streams.replay.incidents import backtest_table

    cfg = load(config_paths(args.config))
    assert isinstance(cfg, Config)
    try:
        policies = [load_alert_policy(p, cfg.settings.bucket_seconds) for p in args.policy]
    except ConfigError as e:
        print_config_errors(e.lines)
        return 1
    now = time.time()
    logs = []
    for pol in policies:
        print(f"replaying with policy {pol.name} ({len(pol.rules)} rules) ...", file=sys.stderr)
        logs.append(replay_incidents(Path(args.events), pol.apply(cfg), args.every, now))
    print(backtest_table([p.name for p in policies], logs))
    return 0


def add_parsers(sub: Any) -> None:
    """The history commands."""
    r = sub.add_parser("replay", help="replay a JSONL file of outcomes: alert timeline, budgets")
    history_args(r)
    r.add_argument("--out", required=True, help="directory for alerts/burn_rates/budgets.jsonl")
    r.add_argument("--every", type=int, default=60, help="seconds of event time between rows")
    r.add_argument(
        "--exclusions",
        help="maintenance windows and corrections to honour: GET /v1/exclusions output (JSON)",
    )
    r.add_argument(
        "--via-broker",
        action="store_true",
        help="run through the embedded broker and a real worker instead",
    )
    r.set_defaults(fn=cmd_replay)

    bt = sub.add_parser("backtest", help="replay a file under several alert policies, compared")
    history_args(bt)
    bt.add_argument(
        "--policy",
        action="append",
        required=True,
        help="alert policy YAML (name, alerts: {rule: {window_minutes, threshold}})",
    )
    bt.add_argument(
        "--every", type=int, default=60, help="seconds of event time between evaluations"
    )
    bt.set_defaults(fn=cmd_backtest)
