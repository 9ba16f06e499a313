"""The ``sloburn`` command: one module per command group, assembled here."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from streams.cli import completion, configs, history, override, remote, report, running, status
from streams.cli.common import Parser
from streams.runtime.log_format import JsonFormatter


def _version() -> str:
    try:
        return version("sloburn")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for docs and tests)."""
    p = Parser(prog="sloburn", description="Error budgets and burn-rate alerting as a stream.")
    p.add_argument("--version", action="version", version=f"sloburn {_version()}")
    sub = p.add_subparsers(dest="command", required=True)
    configs.add_parsers(sub)
    running.add_parsers(sub)
    history.add_parsers(sub)
    report.add_parser(sub)
    remote.add_gate_parser(sub)
    remote.add_parser(sub)
    remote.add_exclude_parser(sub)
    override.add_parser(sub)
    status.add_parser(sub)
    completion.add_parser(sub, p)
    return p


def _unreachable(e: BaseException) -> str | None:
    """A one-line reason when ``e`` means a broker or worker could not be reached."""
    from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

    if isinstance(e, KafkaConnectionError | KafkaTimeoutError):
        return f"cannot reach the Kafka broker ({e})"
    if isinstance(e, ConnectionError | TimeoutError):
        return f"cannot connect ({type(e).__name__}: {e})"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sloburn`` console script.

    SIGTERM stops a command as Ctrl-C does (exit 0): each command stops what it started (the
    broker's Tansu child, the worker, receivers, temporary directories) in its ``finally``.
    The worker keeps Faust's own handling of both signals (a graceful stop).
    """
    args = parser().parse_args(argv)
    handler = logging.StreamHandler()
    text = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(JsonFormatter() if getattr(args, "log_format", "") == "json" else text)
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    if args.fn is not running.cmd_worker:
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        # The client's own reconnect chatter; what failed is said once, below.
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        code: int = args.fn(args)
    except KeyboardInterrupt:
        return 0
    except Exception as e:
        reason = _unreachable(e)
        if reason is None:
            raise
        print(f"sloburn {args.command}: {reason}", file=sys.stderr)
        return 1
    return code
