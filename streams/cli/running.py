"""Running things: the worker, the embedded broker, the ``up`` demo, and ``send`` (JSON lines
to the outcomes topic)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streams.cli.common import config_paths, env_int, kafka_security, load

if TYPE_CHECKING:  # imported where used: a command loads only what it runs
    from streams.config.kafka_security import KafkaSecurity
    from streams.kafka.sender import Sent


def cmd_worker(args: argparse.Namespace) -> int:
    from streams.config.kafka_security import KafkaSecurity
    from streams.config.model import Config
    from streams.runtime.wiring import Runtime
    from streams.worker.run import run_worker

    security = kafka_security()
    assert isinstance(security, KafkaSecurity)
    cfg = load(config_paths(args.config))
    assert isinstance(cfg, Config)
    rt = Runtime(
        broker=args.broker,
        web_host=args.web_host,
        web_port=args.web_port,
        data_dir=args.data_dir,
        replay_mode=args.replay_mode,
        processing_guarantee=args.processing_guarantee,
        broker_compat=args.broker_compat,
        security=security,
    )
    run_worker(cfg, rt, loglevel=args.loglevel, log_format=args.log_format)
    return 0


def cmd_broker(args: argparse.Namespace) -> int:
    from streams.local.embedded_broker import EmbeddedBroker

    broker = EmbeddedBroker(args.port)
    try:
        broker.start()
    except TimeoutError as e:
        print(f"broker: {e}", file=sys.stderr)
        return 1
    try:
        while broker.proc is not None and broker.proc.poll() is None:
            time.sleep(0.5)
        print(
            f"broker exited with code {broker.proc.returncode if broker.proc else '?'}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        broker.stop()


def cmd_up(args: argparse.Namespace) -> int:
    from streams.local.demo import stop_leftovers, up
    from streams.local.kafka_cluster import available

    if args.kafka and (reason := available()) is not None:
        print(f"up --kafka: {reason}", file=sys.stderr)
        return 2

    try:
        return asyncio.run(
            up(
                config_paths(args.config, shipped_fallback=True),
                args.broker_port,
                args.web_port,
                args.once,
                Path(args.workdir),
                args.kafka,
            )
        )
    except KeyboardInterrupt:
        return 0
    finally:
        stop_leftovers()


def cmd_send(args: argparse.Namespace) -> int:
    """Exit 0 when the broker acknowledged everything (and, with --check, the worker took
    every outcome), 1 when a line is invalid or the worker rejected outcomes, 2 when the
    worker gave no verdict within --timeout."""
    from streams.config.kafka_security import KafkaSecurity
    from streams.kafka.verdict import dlq_ends

    security = kafka_security()
    assert isinstance(security, KafkaSecurity)
    dlq_from = asyncio.run(dlq_ends(args.broker, security)) if args.check else {}
    stream = sys.stdin.buffer if args.file in (None, "-") else open(args.file, "rb")  # noqa: SIM115
    with stream:
        try:
            sent, recorded, how = _send(args, stream, security)
        except ValueError as e:
            print(f"send: {e}; the lines before it were sent", file=sys.stderr)
            return 1
    print(
        f"sent {recorded} outcomes as {sent.messages} messages ({how}); the broker "
        f"acknowledged {len(sent.offsets)}",
        file=sys.stderr,
    )
    if len(sent.offsets) < sent.messages:
        return 1
    return _check(args, security, sent, dlq_from) if args.check else 0


def _send(args: argparse.Namespace, stream: Any, security: KafkaSecurity) -> tuple[Sent, int, str]:
    """(what was sent, outcomes recorded, how): one message per line, or batched or
    pre-counted by the client (then the messages hold counts, not outcomes)."""
    if not (args.batch or args.aggregate):
        from streams.kafka.sender import send_lines

        sent = asyncio.run(send_lines(args.broker, stream, args.partitions, security))
        return sent, sent.outcomes, "as given"
    from streams.config.model import Config
    from streams.kafka.client import send_outcomes
    from streams.kafka.topics import ensure_topics

    cfg = load(config_paths(args.config)) if args.aggregate else None
    assert cfg is None or isinstance(cfg, Config)
    lines = [line for line in (raw.strip() for raw in stream) if line]
    asyncio.run(ensure_topics(args.broker, args.partitions, security))
    recorded, sent = asyncio.run(send_outcomes(args.broker, lines, cfg, security))
    return sent, recorded, "pre-counted per SLO and second" if cfg else "batched"


def _check(
    args: argparse.Namespace, security: KafkaSecurity, sent: Sent, dlq_from: dict[int, int]
) -> int:
    from streams.kafka.topics import OUTCOMES_DLQ
    from streams.kafka.verdict import rejections

    found = asyncio.run(rejections(args.broker, security, sent, dlq_from, args.timeout))
    if found is None:
        print(
            f"check: the worker has not read them within {args.timeout:g}s (is it running?)",
            file=sys.stderr,
        )
        return 2
    unit = " pre-counted events" if args.aggregate else ""
    accepted = sent.outcomes - found.total
    line = f"check: the worker accepted {accepted}{unit}, rejected {found.total}"
    if found.total:
        reasons = ", ".join(f"{r} {n}" for r, n in sorted(found.by_reason.items()))
        line += f" ({reasons}; {found.records} records in {OUTCOMES_DLQ})"
    print(line, file=sys.stderr)
    return 1 if found.total else 0


def cmd_otlp(args: argparse.Namespace) -> int:
    from streams.config.kafka_security import KafkaSecurity
    from streams.config.model import Config
    from streams.http.otlp_server import Intake, serve

    security = kafka_security()
    assert isinstance(security, KafkaSecurity)
    paths = config_paths(args.config)
    cfg = load(paths)
    assert isinstance(cfg, Config)
    intake = Intake(paths, cfg, args.broker, args.host, args.port, security)

    def started() -> None:
        print(
            f"otlp: POST http://{args.host}:{args.port}/v1/traces -> sloburn.outcomes on "
            f"{args.broker}; {len(cfg.slos)} SLOs",
            file=sys.stderr,
            flush=True,
        )

    asyncio.run(serve(intake, started))
    return 0


def add_parsers(sub: Any) -> None:
    """The commands that run something."""
    broker_default = os.environ.get("SLOBURN_BROKER", "127.0.0.1:9092")
    _worker_parser(sub, broker_default)

    b = sub.add_parser("broker", help="run the embedded broker (Tansu, memory storage)")
    b.add_argument(
        "--port",
        type=int,
        default=env_int("SLOBURN_BROKER_PORT", 9092),
        help="port on 127.0.0.1 ($SLOBURN_BROKER_PORT)",
    )
    b.set_defaults(fn=cmd_broker)

    u = sub.add_parser("up", help="broker + worker + local receivers + a scripted outage")
    u.add_argument(
        "--config", action="append", help="config file, repeatable (default: the demo's)"
    )
    u.add_argument(
        "--broker-port",
        type=int,
        default=env_int("SLOBURN_BROKER_PORT", 9092),
        help="embedded broker port ($SLOBURN_BROKER_PORT)",
    )
    u.add_argument(
        "--web-port",
        type=int,
        default=env_int("SLOBURN_WEB_PORT", 6066),
        help="the worker's HTTP port ($SLOBURN_WEB_PORT)",
    )
    u.add_argument("--workdir", default=".sloburn", help="where logs go")
    u.add_argument(
        "--kafka",
        action="store_true",
        help="run on a local Apache Kafka (Java 17 and mvn needed) instead of the embedded broker",
    )
    u.add_argument(
        "--once", action="store_true", help="exit after the demo (0: page fired+resolved)"
    )
    u.set_defaults(fn=cmd_up)

    _send_parser(sub, broker_default)
    _otlp_parser(sub, broker_default)


def _send_parser(sub: Any, broker_default: str) -> None:
    s = sub.add_parser("send", help="produce JSON lines (file or stdin) to the outcomes topic")
    s.add_argument("file", nargs="?", help="JSONL file, or - / nothing for stdin")
    s.add_argument("--broker", default=broker_default, help="bootstrap host:port ($SLOBURN_BROKER)")
    s.add_argument("--partitions", type=int, default=8, help="partitions if the topic is missing")
    s.add_argument("--batch", action="store_true", help="many raw outcomes per message")
    s.add_argument(
        "--aggregate",
        action="store_true",
        help="count good/total per SLO and second before sending (needs the config)",
    )
    s.add_argument("--config", action="append", help="config files (for --aggregate)")
    s.add_argument(
        "--check",
        action="store_true",
        help="wait for the worker's verdict: accepted, rejected by reason (exit 1 if any)",
    )
    s.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for the worker (--check)"
    )
    s.set_defaults(fn=cmd_send)


def _worker_parser(sub: Any, broker_default: str) -> None:
    w = sub.add_parser("worker", help="run the stream worker")
    _server_options(w, broker_default, "--web", "SLOBURN_WEB", 6066, "page, API, /metrics")
    w.add_argument(
        "--data-dir",
        default=os.environ.get("SLOBURN_DATA_DIR", "./data"),
        help="Faust's local state ($SLOBURN_DATA_DIR)",
    )
    w.add_argument(
        "--loglevel",
        "-l",
        default="info",
        choices=["debug", "info", "warn", "error"],
        help="log level; below debug, Faust's own logs show only warnings",
    )
    w.add_argument(
        "--log-format",
        default=os.environ.get("SLOBURN_LOG_FORMAT", "text"),
        choices=["text", "json"],
        help="json: one JSON object per line, for log pipelines ($SLOBURN_LOG_FORMAT)",
    )
    w.add_argument(
        "--replay-mode",
        action="store_true",
        help="evaluate only when a replay driver asks (sloburn replay --via-broker)",
    )
    w.add_argument(
        "--broker-compat",
        choices=["auto", "tansu", "none"],
        default=os.environ.get("SLOBURN_BROKER_COMPAT", "auto"),
        help="table-recovery fix for the embedded broker (auto: on when the broker is it)",
    )
    w.add_argument(
        "--processing-guarantee",
        choices=["at_least_once", "exactly_once"],
        default=os.environ.get("SLOBURN_PROCESSING_GUARANTEE", "at_least_once"),
        help="at_least_once (exact through offset dedup); exactly_once is refused (README)",
    )
    w.set_defaults(fn=cmd_worker)


def _otlp_parser(sub: Any, broker_default: str) -> None:
    o = sub.add_parser("otlp", help="receive OpenTelemetry spans over OTLP/HTTP (POST /v1/traces)")
    _server_options(o, broker_default, "-", "SLOBURN_OTLP", 4318, "OTLP/HTTP's")
    o.set_defaults(fn=cmd_otlp)


def _server_options(
    p: Any, broker_default: str, prefix: str, env: str, port: int, what: str
) -> None:
    """--config, --broker, and the HTTP address and port (``{prefix}-host``/``-port``,
    defaults from ``{env}_HOST``/``_PORT``) of a command that serves."""
    p.add_argument("--config", action="append", help="config file (repeatable)")
    p.add_argument("--broker", default=broker_default, help="bootstrap host:port ($SLOBURN_BROKER)")
    p.add_argument(
        f"{prefix}-host",
        default=os.environ.get(f"{env}_HOST", "127.0.0.1"),
        help=f"HTTP address (${env}_HOST)",
    )
    p.add_argument(
        f"{prefix}-port",
        type=int,
        default=env_int(f"{env}_PORT", port),
        help=f"HTTP port: {what} (${env}_PORT)",
    )
