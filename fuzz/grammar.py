"""Inputs built from a grammar, driven by the fuzzer's bytes.

Plain byte mutation rarely finds what breaks a JSON or YAML consumer: ten minutes of it on
ingest (30 million inputs) never produced an array nested 300 deep. So each harness reads its
input as choices in a grammar of the format: JSON with deep nesting, huge arrays, extreme and
invalid numbers, duplicate keys and the outcome schema's own fields; YAML with anchors,
aliases, tags, deep blocks, env references and the config formats' own keys. libFuzzer's
coverage feedback still steers which choices are made. ``Choices`` works on any bytes, so a
corpus file replays without atheris (tests/unit/test_fuzz_corpus.py).
"""

from __future__ import annotations

import json
import struct


class Choices:
    """Reads decisions from bytes; past the end every choice is 0 (the shortest input)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def pick(self, n: int) -> int:
        """0..n-1."""
        return (self.byte() << 8 | self.byte()) % n if n > 256 else self.byte() % n

    def of(self, items: list[str] | list[bytes] | tuple[str, ...]) -> str | bytes:
        return items[self.pick(len(items))]

    def number(self) -> float:
        raw = bytes(self.byte() for _ in range(8))
        return float(struct.unpack("<d", raw)[0])

    def text(self, limit: int = 12) -> str:
        n = self.pick(limit + 1)
        return "".join(
            chr(self.pick(0x300) if self.byte() & 1 else 32 + self.pick(95)) for _ in range(n)
        )


# ---------------------------------------------------------------------------------------------
# JSON

OUTCOME_KEYS = ("service", "ts", "status_code", "latency_ms", "route", "ok", "good", "total", "slo")
SERVICES = ("checkout-api", "search-api", "payment-gateway", "no-such-api", "", "x" * 300)
EDGE_NUMBERS = (
    "0",
    "-0",
    "1",
    "-1",
    "200",
    "503",
    "599",
    "600",
    "99",
    "1e999",
    "-1e999",
    "1E400",
    "1e-400",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775809",
    "9223372036854775807",
    "1799999000",
    "1800000000.5",
    "4102444801",
    "1e13",
    "1.7976931348623157e308",
    "0.1",
    "NaN",
    "Infinity",
    "-Infinity",
    "1.",
    ".5",
    "01",
    "1e",
    "0x10",
)


def json_value(c: Choices, depth: int = 0) -> bytes:
    kind = c.pick(14) if depth < 8 else c.pick(6)
    if kind == 0:
        return c.of([b"null", b"true", b"false"])  # type: ignore[return-value]
    if kind == 1:
        return str(c.of(EDGE_NUMBERS)).encode()
    if kind == 2:
        return repr(c.number()).encode()
    if kind == 3:
        return json.dumps(c.text()).encode()
    if kind == 4:
        return json.dumps(str(c.of(SERVICES))).encode()
    if kind == 5:
        return str(c.pick(100_000) - 50_000).encode()
    if kind == 6:  # an array nested deep (orjson writes 254 levels, reads 1024)
        n = c.pick(1100)
        return b"[" * n + json_value(c, 99) + b"]" * n
    if kind == 7:  # a huge array of one small value
        return b"[" + b",".join([json_value(c, 99)] * c.pick(120_000)) + b"]"
    if kind == 8:
        return b"[" + b",".join(json_value(c, depth + 1) for _ in range(c.pick(6))) + b"]"
    if kind in (9, 10, 11):
        return outcome(c, depth)
    if kind == 12:  # an object with any keys, duplicates included
        items = [
            json.dumps(c.text(6)).encode() + b":" + json_value(c, depth + 1)
            for _ in range(c.pick(5))
        ]
        return b"{" + b",".join(items) + b"}"
    return c.of([b"", b"{", b"[", b'"\\ud800"', b"\xff\xfe", b'{"a":1,}', b"[1 2]"])  # type: ignore[return-value]


def outcome(c: Choices, depth: int = 0) -> bytes:
    """An object shaped like an outcome: the schema's keys with any values."""
    items = []
    for key in OUTCOME_KEYS:
        if c.pick(4):
            value = json_value(c, depth + 1) if c.pick(3) == 0 else _typical(c, key)
            items.append(json.dumps(key).encode() + b":" + value)
    if c.pick(4) == 0:
        items.append(json.dumps(c.text(6)).encode() + b":" + json_value(c, depth + 1))
    return b"{" + b",".join(items) + b"}"


def _typical(c: Choices, key: str) -> bytes:
    if key == "service":
        return json.dumps(str(c.of(SERVICES))).encode()
    if key == "ts":
        return c.of(
            [
                b"1799999990",
                b"1800000000",
                b'"2027-01-15T08:00:00Z"',
                b"1800000400",
                b"1799990000",
                b"0",
                b'"9999-12-31T23:59:59Z"',
            ]
        )  # type: ignore[return-value]
    if key in ("status_code", "good", "total"):
        return str(c.of(["200", "503", "404", "0", "10", "-1", "18446744073709551615"])).encode()
    if key == "latency_ms":
        return str(c.of(["12.5", "300", "301", "0", "-1", "1e308"])).encode()
    if key == "ok":
        return c.of([b"true", b"false", b"null", b'"true"'])  # type: ignore[return-value]
    if key == "slo":
        return c.of([b'"checkout-api:success_rate"', b'"x"', b"null"])  # type: ignore[return-value]
    return json.dumps(c.text()).encode()


def message(c: Choices) -> bytes:
    """One Kafka message: an outcome, a batch of them, any JSON, or raw bytes."""
    kind = c.pick(5)
    if kind == 0:
        return bytes(c.byte() for _ in range(c.pick(64)))
    if kind == 1:
        return outcome(c)
    if kind == 2:
        return (
            b"["
            + b",".join(outcome(c) if c.pick(3) else json_value(c, 1) for _ in range(c.pick(12)))
            + b"]"
        )
    return json_value(c)


# ---------------------------------------------------------------------------------------------
# YAML

CONFIG_KEYS = (
    "services",
    "policy",
    "journeys",
    "settings",
    "notifications",
    "sli_type",
    "target",
    "window_days",
    "calendar",
    "time_zone",
    "latency_threshold_ms",
    "success_codes",
    "alerts",
    "window_minutes",
    "short_window_minutes",
    "threshold",
    "severity",
    "resolve_after_minutes",
    "min_bad_events",
    "burn_confidence",
    "no_data_minutes",
    "members",
    "weight",
    "name",
    "sli",
    "slo",
    "burn_rates",
    "enforcement",
    "release_gate",
    "feature_flag",
    "notification",
    "receivers",
    "routes",
    "match",
    "type",
    "webhook_url",
    "webhook_url_file",
    "routing_key",
    "routing_key_file",
    "events_url",
    "slack_webhook_url",
    "pagerduty_routing_key",
    "pagerduty_events_url",
    "dashboard_url",
    "runbook_url",
    "summary_template",
    "bucket_seconds",
    "partitions",
    "apiVersion",
    "kind",
    "metadata",
    "spec",
    "service",
    "indicator",
    "indicatorRef",
    "objectives",
    "timeWindow",
    "budgetingMethod",
    "duration",
    "isRolling",
    "ratioMetric",
    "thresholdMetric",
    "alertPolicies",
    "conditions",
    "condition",
    "continue",
)
YAML_SCALARS = (
    "0.999",
    "1.2",
    "30",
    "-1",
    "0",
    "success_rate",
    "latency",
    "page",
    "ticket",
    "true",
    "null",
    "~",
    "openslo/v1",
    "SLO",
    "SLI",
    "Service",
    "AlertPolicy",
    "28d",
    "1M",
    "1Q",
    "Occurrences",
    "Timeslices",
    "${SLACK}",
    "${UNDEFINED",
    "${X:-}",
    "https://example.test/x",
    "not a url",
    "/dev/zero",
    "/dev/stdin",
    "/etc/hostname",
    "1e999",
    ".nan",
    ".inf",
    "0x1F",
    "2027-01-15",
    "'{slo}'",
    "'{nope}'",
    "Europe/Berlin",
    "Mars/Base",
    "!!binary aGk=",
    "!!set {a}",
    "!!omap [a: 1]",
    "!!python/object:os.system x",
    "|\n  block",
    '"\\x00"',
    "200",
    "[200, 201]",
)


def yaml_node(c: Choices, indent: int, depth: int = 0) -> str:
    pad = " " * indent
    kind = c.pick(9) if depth < 12 else 0
    if kind in (0, 1):
        return " " + str(c.of(YAML_SCALARS)) + "\n"
    if kind == 2:
        return f" &a{c.pick(4)} " + str(c.of(YAML_SCALARS)) + "\n"
    if kind == 3:
        return f" *a{c.pick(4)}\n"
    if kind == 4:  # flow collections, nested
        n = c.pick(300)
        return " " + "[" * n + str(c.of(YAML_SCALARS)) + "]" * n + "\n"
    if kind == 5:
        anchor = f" &a{c.pick(4)}" if c.pick(2) else ""
        items = "".join(
            f"{pad}-" + yaml_node(c, indent + 2, depth + 1) for _ in range(1 + c.pick(4))
        )
        return anchor + "\n" + items
    anchor = f" &a{c.pick(4)}" if c.pick(3) == 0 else ""
    lines = "".join(
        f"{pad}{c.of(CONFIG_KEYS) if c.pick(6) else c.text(4) or 'k'}:"
        + yaml_node(c, indent + 2, depth + 1)
        for _ in range(1 + c.pick(5))
    )
    return anchor + "\n" + lines


def yaml_document(c: Choices) -> str:
    """A config file: mostly the formats' own keys, several documents sometimes."""
    docs = []
    for _ in range(1 + (c.pick(4) == 0) * c.pick(3)):
        top = str(
            c.of(("services", "policy", "apiVersion", "notifications", "settings", "journeys"))
        )
        docs.append(
            f"{top}:"
            + yaml_node(c, 2)
            + "".join(f"{c.of(CONFIG_KEYS)}:" + yaml_node(c, 2) for _ in range(c.pick(3)))
        )
    return "---\n".join(docs)
