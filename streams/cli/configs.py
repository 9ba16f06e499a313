"""Config commands: validate, convert (OpenSLO <-> sloburn) and rules (Prometheus)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from streams.cli.common import config_paths, load, print_config_errors


def cmd_validate(args: argparse.Namespace) -> int:
    from streams.config.model import Config

    cfg = load(config_paths(args.config))
    assert isinstance(cfg, Config)
    for slo in cfg.slos:
        rules = ", ".join(
            f"{r.name}({r.severity} {r.long_window_s // 60}m/{r.short_window_s // 60}m "
            f">{float(r.burn):g}x)"
            for r in slo.alerts
        )
        covers = "" if slo.operations is None else f"; operations {sorted(slo.operations)}"
        if slo.span_kinds != {"server"}:
            covers += f"; span kinds {sorted(slo.span_kinds)}"
        print(f"ok {slo.id}: target {float(slo.target):g} over {slo.window_label}; {rules}{covers}")
    for t in cfg.otlp.kafka_topics:
        print(f"ok otlp: reads spans from Kafka topic {t.topic} ({t.encoding})")
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

    cfg = load(args.files)  # validates either way, and says what OpenSLO input leaves out
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
            print_config_errors(e.lines)
            return 1
        services += doc["policy"]["services"]
    sys.stdout.write(yaml.safe_dump({"policy": {"services": services}}, sort_keys=False))
    return 0


def cmd_rules(args: argparse.Namespace) -> int:
    from streams.config.model import Config
    from streams.export.prometheus import MetricNames, prometheus_rules

    cfg = load(config_paths(args.config))
    assert isinstance(cfg, Config)
    names = MetricNames(
        args.requests_metric,
        args.duration_metric,
        args.service_label,
        args.code_label,
        args.route_label,
        args.method_label,
    )
    print(prometheus_rules(cfg, names), end="")
    return 0


def add_parsers(sub: Any) -> None:
    """The config commands."""
    v = sub.add_parser("validate", help="check config files; one line per problem")
    v.add_argument("config", nargs="*", help="config files (default: configs/*.yaml)")
    v.set_defaults(fn=cmd_validate)

    c = sub.add_parser("convert", help="OpenSLO <-> sloburn config, to stdout")
    c.add_argument(
        "--to", choices=["sloburn", "openslo"], required=True, help="the format to write"
    )
    c.add_argument("files", nargs="+", help="OpenSLO files (--to sloburn) or sloburn configs")
    c.set_defaults(fn=cmd_convert)

    ru = sub.add_parser("rules", help="the SLOs as Prometheus recording and alerting rules")
    ru.add_argument("config", nargs="*", help="config files (default: configs/*.yaml)")
    ru.add_argument(
        "--requests-metric", default="http_requests_total", help="counter of requests by code"
    )
    ru.add_argument(
        "--duration-metric",
        default="http_request_duration_seconds",
        help="latency histogram (latency SLOs)",
    )
    ru.add_argument("--service-label", default="service", help="label naming the service")
    ru.add_argument("--code-label", default="code", help="label holding the status code")
    ru.add_argument("--route-label", default="route", help="for SLOs with operations")
    ru.add_argument("--method-label", default="method", help="for operations like 'POST /pay'")
    ru.set_defaults(fn=cmd_rules)
