"""The ``sloburn`` command: broker, worker, up, validate, send."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from streams.cli import remote

DEFAULT_CONFIGS = ("configs/slo_config.yaml", "configs/error-budget-policy.yaml")


def _configs(given: list[str] | None, shipped_fallback: bool = False) -> list[str]:
    """The config files: given, else $SLOBURN_CONFIG, else ./configs/; for the demo (``up``)
    the copies shipped in the package when ./configs/ has none, so it runs from anywhere."""
    if given:
        return given
    env = os.environ.get("SLOBURN_CONFIG")
    if env:
        return [p for p in env.split(",") if p]
    found = [p for p in DEFAULT_CONFIGS if Path(p).exists()]
    if not found and shipped_fallback:
        shipped = Path(__file__).resolve().parent / "shipped"
        return [str(shipped / Path(p).name) for p in DEFAULT_CONFIGS]
    return found or list(DEFAULT_CONFIGS)


def _print_config_errors(lines: list[str]) -> None:
    for line in lines:
        print(f"config error: {line}", file=sys.stderr)


def _load(paths: list[str]) -> object:
    from streams.config.errors import ConfigError
    from streams.config.loading import load_config

    try:
        return load_config(paths)
    except ConfigError as e:
        _print_config_errors(e.lines)
        raise SystemExit(1) from None
    except RecursionError:
        # Every limit we know of is checked with its place; this is the last line of defence.
        _print_config_errors([f"{', '.join(paths)}: nested too deeply to check"])
        raise SystemExit(1) from None
    except Exception as e:  # a bug: still one line, never a traceback
        _print_config_errors([f"{', '.join(paths)}: unexpected {type(e).__name__}: {e}"])
        raise SystemExit(1) from None


def cmd_validate(args: argparse.Namespace) -> int:
    from streams.config.model import Config

    cfg = _load(_configs(args.config))
    assert isinstance(cfg, Config)
    for slo in cfg.slos:
        rules = ", ".join(
            f"{r.name}({r.severity} {r.long_window_s // 60}m/{r.short_window_s // 60}m "
            f">{float(r.burn):g}x)"
            for r in slo.alerts
        )
        print(f"ok {slo.id}: target {float(slo.target):g} over {slo.window_label}; {rules}")
    for line in cfg.warnings:
        print(f"config warning: {line}", file=sys.stderr)
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    """OpenSLO files to a sloburn policy document, or sloburn configs to OpenSLO objects."""
    import yaml

    from streams.config.errors import ConfigError
    from streams.config.loading import openslo_policy
    from streams.config.model import Config
    from streams.export import openslo as openslo_out

    cfg = _load(args.files)  # validates either way, and says what OpenSLO input leaves out
    assert isinstance(cfg, Config)
    for line in cfg.warnings:
        print(f"config warning: {line}", file=sys.stderr)
    if args.to == "openslo":
        for line in openslo_out.export_warnings(cfg.slos):
            print(f"convert warning: {line}", file=sys.stderr)
        sys.stdout.write(yaml.safe_dump_all(openslo_out.from_slos(cfg.slos), sort_keys=False))
        return 0
    services: list[object] = []
    for path in args.files:
        try:
            doc, _ = openslo_policy(Path(path))
        except ConfigError as e:
            _print_config_errors(e.lines)
            return 1
        services += doc["policy"]["services"]
    sys.stdout.write(yaml.safe_dump({"policy": {"services": services}}, sort_keys=False))
    return 0


def _security() -> object:
    from streams.config.errors import ConfigError
    from streams.config.kafka_security import KafkaSecurity

    try:
        return KafkaSecurity.from_env(os.environ)
    except ConfigError as e:
        _print_config_errors(e.lines)
        raise SystemExit(1) from None


def cmd_worker(args: argparse.Namespace) -> int:
    from streams.config.kafka_security import KafkaSecurity
    from streams.config.model import Config
    from streams.runtime.wiring import Runtime
    from streams.worker.run import run_worker

    security = _security()
    assert isinstance(security, KafkaSecurity)
    cfg = _load(_configs(args.config))
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
    run_worker(cfg, rt, loglevel=args.loglevel)
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
                _configs(args.config, shipped_fallback=True),
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
    from streams.config.kafka_security import KafkaSecurity
    from streams.kafka.sender import send_lines

    security = _security()
    assert isinstance(security, KafkaSecurity)
    stream = sys.stdin.buffer if args.file in (None, "-") else open(args.file, "rb")  # noqa: SIM115
    if not (args.batch or args.aggregate):
        with stream:
            sent = asyncio.run(send_lines(args.broker, stream, args.partitions, security))
        print(f"sent {sent} messages to the outcomes topic", file=sys.stderr)
        return 0
    from streams.config.model import Config
    from streams.kafka.client import send_outcomes
    from streams.kafka.topics import ensure_topics

    cfg = _load(_configs(args.config)) if args.aggregate else None
    assert cfg is None or isinstance(cfg, Config)
    with stream:
        lines = [line for line in (raw.strip() for raw in stream) if line]
    try:
        asyncio.run(ensure_topics(args.broker, args.partitions, security))
        recorded, messages = asyncio.run(send_outcomes(args.broker, lines, cfg, security))
    except ValueError as e:
        print(f"send: {e}; the lines before it were sent", file=sys.stderr)
        return 1
    how = "pre-counted per SLO and second" if cfg else "batched"
    print(f"sent {recorded} outcomes as {messages} messages ({how})", file=sys.stderr)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from streams.config.model import Config
    from streams.replay.engine import InProcess, replay_file

    cfg = _load(_configs(args.config))
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

        summary = via_broker(path, _configs(args.config), cfg, Path(args.out), args.every, now)
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

    cfg = _load(_configs(args.config))
    assert isinstance(cfg, Config)
    try:
        policies = [load_alert_policy(p, cfg.settings.bucket_seconds) for p in args.policy]
    except ConfigError as e:
        _print_config_errors(e.lines)
        return 1
    now = time.time()
    logs = []
    for pol in policies:
        print(f"replaying with policy {pol.name} ({len(pol.rules)} rules) ...", file=sys.stderr)
        logs.append(replay_incidents(Path(args.events), pol.apply(cfg), args.every, now))
    print(backtest_table([p.name for p in policies], logs))
    return 0


GATE_EXIT = {"allow": 0, "allow_monitor": 0, "signoff": 1, "block": 1, "freeze": 1, "rollback": 1}


def cmd_gate(args: argparse.Namespace) -> int:
    """Exit 0 to release, 1 not to, 2 when the answer cannot be had."""
    import json
    import urllib.error
    import urllib.parse
    import urllib.request

    url = (
        f"{args.url.rstrip('/')}/v1/gate/{urllib.parse.quote(args.service, safe='')}"
        f"{'?critical=true' if args.critical else ''}"
    )
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as r:
            v = json.loads(r.read())
    except urllib.error.HTTPError as e:
        detail = ""
        try:
            body = json.loads(e.read())
            detail = (
                f": {body.get('error', '')}; known services: {', '.join(body.get('known', []))}"
            )
        except (ValueError, AttributeError):
            pass
        print(f"gate {args.service}: cannot tell (HTTP {e.code}{detail})", file=sys.stderr)
        return 2
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        reason = getattr(e, "reason", e)
        print(
            f"gate {args.service}: cannot tell: worker at {args.url} unreachable ({reason})",
            file=sys.stderr,
        )
        return 2
    if args.json:
        print(json.dumps(v, indent=2))
    else:
        why = "; ".join(v["reasons"]) or "budget healthy"
        print(f"gate {v['service']}: {v['decision'].upper()} - {why}")
    return GATE_EXIT.get(v["decision"], 2)


def cmd_rules(args: argparse.Namespace) -> int:
    from streams.config.model import Config
    from streams.export.prometheus import MetricNames, prometheus_rules

    cfg = _load(_configs(args.config))
    assert isinstance(cfg, Config)
    names = MetricNames(
        args.requests_metric, args.duration_metric, args.service_label, args.code_label
    )
    print(prometheus_rules(cfg, names), end="")
    return 0


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def _history_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("events", help="JSONL file of raw or pre-aggregated outcomes")
    p.add_argument("--config", action="append")


def parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for docs and tests)."""
    broker_default = os.environ.get("SLOBURN_BROKER", "127.0.0.1:9092")
    p = argparse.ArgumentParser(
        prog="sloburn", description="Error budgets and burn-rate alerting as a stream."
    )
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser("validate", help="check config files; one line per problem")
    v.add_argument("config", nargs="*", help="config files (default: configs/*.yaml)")
    v.set_defaults(fn=cmd_validate)

    c = sub.add_parser("convert", help="OpenSLO <-> sloburn config, to stdout")
    c.add_argument("--to", choices=["sloburn", "openslo"], required=True)
    c.add_argument("files", nargs="+", help="OpenSLO files (--to sloburn) or sloburn configs")
    c.set_defaults(fn=cmd_convert)

    w = sub.add_parser("worker", help="run the stream worker")
    w.add_argument("--config", action="append", help="config file (repeatable)")
    w.add_argument("--broker", default=broker_default, help="bootstrap host:port")
    w.add_argument("--web-host", default=os.environ.get("SLOBURN_WEB_HOST", "127.0.0.1"))
    w.add_argument("--web-port", type=int, default=_env_int("SLOBURN_WEB_PORT", 6066))
    w.add_argument("--data-dir", default=os.environ.get("SLOBURN_DATA_DIR", "./data"))
    w.add_argument("--loglevel", "-l", default="info", choices=["debug", "info", "warn", "error"])
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
        help="exactly_once adds Kafka transactions (Apache Kafka only); counts are exact anyway",
    )
    w.set_defaults(fn=cmd_worker)

    b = sub.add_parser("broker", help="run the embedded broker (Tansu, memory storage)")
    b.add_argument("--port", type=int, default=_env_int("SLOBURN_BROKER_PORT", 9092))
    b.set_defaults(fn=cmd_broker)

    u = sub.add_parser("up", help="broker + worker + local receivers + a scripted outage")
    u.add_argument("--config", action="append")
    u.add_argument("--broker-port", type=int, default=_env_int("SLOBURN_BROKER_PORT", 9092))
    u.add_argument("--web-port", type=int, default=_env_int("SLOBURN_WEB_PORT", 6066))
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

    r = sub.add_parser("replay", help="replay a JSONL file of outcomes: alert timeline, budgets")
    _history_args(r)
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
    _history_args(bt)
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

    g = sub.add_parser("gate", help="may SERVICE release now? exit 0 yes, 1 no, 2 cannot tell")
    g.add_argument("service")
    g.add_argument("--url", default=os.environ.get("SLOBURN_URL", "http://127.0.0.1:6066"))
    g.add_argument("--critical", action="store_true", help="a critical fix: may pass a block")
    g.add_argument("--json", action="store_true", help="print the whole decision as JSON")
    g.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the worker")
    g.set_defaults(fn=cmd_gate)

    ru = sub.add_parser("rules", help="the SLOs as Prometheus recording and alerting rules")
    ru.add_argument("config", nargs="*", help="config files (default: configs/*.yaml)")
    ru.add_argument("--requests-metric", default="http_requests_total")
    ru.add_argument("--duration-metric", default="http_request_duration_seconds")
    ru.add_argument("--service-label", default="service")
    ru.add_argument("--code-label", default="code")
    ru.set_defaults(fn=cmd_rules)

    remote.add_parser(sub)
    remote.add_exclude_parser(sub)

    s = sub.add_parser("send", help="produce JSON lines (file or stdin) to the outcomes topic")
    s.add_argument("file", nargs="?", help="JSONL file, or - / nothing for stdin")
    s.add_argument("--broker", default=broker_default)
    s.add_argument("--partitions", type=int, default=8, help="partitions if the topic is missing")
    s.add_argument("--batch", action="store_true", help="many raw outcomes per message")
    s.add_argument(
        "--aggregate",
        action="store_true",
        help="count good/total per SLO and second before sending (needs the config)",
    )
    s.add_argument("--config", action="append", help="config files (for --aggregate)")
    s.set_defaults(fn=cmd_send)
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
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = parser().parse_args(argv)
    if args.fn is not cmd_worker:
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
