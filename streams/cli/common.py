"""What the commands share: where the config files are, loading them with one line per
problem, Kafka security from the environment, and defaults from the environment."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

DEFAULT_CONFIGS = ("configs/slo_config.yaml", "configs/error-budget-policy.yaml")
SHIPPED = Path(__file__).resolve().parents[1] / "shipped"  # configs in the package (``up``)


def config_paths(given: list[str] | None, shipped_fallback: bool = False) -> list[str]:
    """The config files: given, else $SLOBURN_CONFIG, else ./configs/; for the demo (``up``)
    the copies shipped in the package when ./configs/ has none, so it runs from anywhere."""
    if given:
        return given
    env = os.environ.get("SLOBURN_CONFIG")
    if env:
        return [p for p in env.split(",") if p]
    found = [p for p in DEFAULT_CONFIGS if Path(p).exists()]
    if not found and shipped_fallback:
        return [str(SHIPPED / Path(p).name) for p in DEFAULT_CONFIGS]
    return found or list(DEFAULT_CONFIGS)


def print_config_errors(lines: list[str]) -> None:
    for line in lines:
        print(f"config error: {line}", file=sys.stderr)


def load(paths: list[str]) -> object:
    from streams.config.errors import ConfigError
    from streams.config.loading import load_config

    try:
        return load_config(paths)
    except ConfigError as e:
        print_config_errors(e.lines)
        raise SystemExit(1) from None
    except RecursionError:
        # Every limit we know of is checked with its place; this is the last line of defence.
        print_config_errors([f"{', '.join(paths)}: nested too deeply to check"])
        raise SystemExit(1) from None
    except Exception as e:  # a bug: still one line, never a traceback
        print_config_errors([f"{', '.join(paths)}: unexpected {type(e).__name__}: {e}"])
        raise SystemExit(1) from None


def kafka_security() -> object:
    from streams.config.errors import ConfigError
    from streams.config.kafka_security import KafkaSecurity

    try:
        return KafkaSecurity.from_env(os.environ)
    except ConfigError as e:
        print_config_errors(e.lines)
        raise SystemExit(1) from None


def env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def history_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("events", help="JSONL file of raw or pre-aggregated outcomes")
    p.add_argument(
        "--config",
        action="append",
        help="config file, repeatable (default: $SLOBURN_CONFIG, else configs/*.yaml)",
    )


class Formatter(argparse.HelpFormatter):
    """Help that shows each option's default, unless it has none to show or says it already."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        quiet = (None, False, argparse.SUPPRESS)
        if "%(default)" in text or action.default in quiet or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """The argument parser of every sloburn command (subcommands inherit its class)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(*args, **kwargs)
