"""What each fuzz harness checks, as plain functions of the fuzzer's bytes.

A harness returns normally when the parser behaved: an input is accepted or refused with its
reason. Anything else (an exception escaping, a contained ``internal_error``, an outcome
neither counted nor dead-lettered, an unbounded dead-letter record) raises, and libFuzzer
saves the input. The same functions replay the kept corpus in the unit tests.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

import orjson
from pydantic import ValidationError

from fuzz.grammar import Choices, json_value, message, outcome, yaml_document
from streams.config.errors import ConfigError
from streams.config.loading import load_config
from streams.config.model import Config
from streams.core.exclusions import Exclusion, ExclusionRequest, exclusion_json
from streams.core.silences import Silence, SilenceRequest
from streams.core.timestamps import iso as _iso
from streams.http.gate import OverrideRequest
from streams.http.silences import silence_json
from streams.ingest.aggregate import Aggregate
from streams.ingest.dead_letters import DLQ_RAW_MAX, REASONS, dlq_record
from streams.ingest.otlp_reader import OtlpReader
from streams.ingest.otlp_wire import decode_traces
from streams.ingest.outcomes import ingest_message
from streams.kafka.sender import outcomes_in

ROOT = Path(__file__).resolve().parents[1]
NOW = 1_800_000_000.0
DLQ_RECORD_MAX = DLQ_RAW_MAX * 2 + 200 * 1024  # escaped raw text, plus 20 listed elements


class Finding(AssertionError):
    """The harness saw behaviour the rule forbids."""


@cache
def _config() -> Config:
    return load_config(
        [ROOT / "configs" / "slo_config.yaml", ROOT / "configs" / "error-budget-policy.yaml"],
        env={},
    )


def ingest(data: bytes) -> None:
    """One Kafka message through ingest: every outcome counted or dead-lettered, by a known
    reason, never internal_error; the DLQ record is one and bounded."""
    raw = message(Choices(data))
    cfg = _config()
    if len(raw) > cfg.settings.max_message_bytes * 2:
        raw = raw[: cfg.settings.max_message_bytes * 2]
    agg = Aggregate()
    rejections = ingest_message(raw, cfg, NOW, agg, {"checkout-api": NOW - 10}, offset=1)
    reasons = {r.reason for r in rejections}
    if not reasons <= set(REASONS) or "internal_error" in reasons:
        raise Finding(f"reasons {reasons}: {[r.error for r in rejections][:3]}")
    whole = len(rejections) == 1 and rejections[0].reason in ("invalid_json", "too_large")
    if not whole and sum(agg.accepted.values()) + len(rejections) != outcomes_in(raw):
        raise Finding("an outcome was neither counted nor dead-lettered")
    if rejections and len(dlq_record(raw, rejections)) > DLQ_RECORD_MAX:
        raise Finding("dead-letter record over its bound")
    for cells in agg.counts.values():
        orjson.dumps(list(cells.values()))  # what goes on the SLI topic must encode


def config(data: bytes) -> None:
    """A config file: it loads, or ConfigError names its problems (one line each)."""
    text = yaml_document(Choices(data))
    fd, name = tempfile.mkstemp(suffix=".yaml", prefix="sloburn-fuzz-")
    try:
        os.write(fd, text.encode("utf-8", "surrogatepass"))
        os.close(fd)
        try:
            load_config([name], env={"SLACK": "https://hooks.example.test/x"})
        except ConfigError as e:
            if not e.lines or any("\n" in line or not line for line in e.lines):
                raise Finding(f"not one line per problem: {e.lines[:3]}") from None
    finally:
        os.unlink(name)


def _bodies(c: Choices) -> bytes:
    """A request body: the models' own fields with any values, or any JSON."""
    fields = (
        "matchers",
        "comment",
        "starts_at",
        "ends_at",
        "duration_seconds",
        "kind",
        "reason",
        "expires_at",
        "expires_in_seconds",
    )
    if c.pick(4) == 0:
        return json_value(c)
    items = []
    for f in fields:
        if c.pick(3):
            value = outcome(c) if f == "matchers" and c.pick(2) else json_value(c, 6)
            if f == "matchers" and c.pick(2):
                value = b'{"service": "checkout-api"}'
            items.append(orjson.dumps(f) + b":" + value)
    return b"{" + b",".join(items) + b"}"


def api(data: bytes) -> None:
    """POST bodies of silences, exclusions and overrides: a 400 with a reason, or a record
    that is stored, read back by every worker and shown, never a 500."""
    raw = _bodies(Choices(data))
    makers: list[tuple[type, Callable[..., object]]] = [
        (SilenceRequest, lambda b: b.silence("fuzz", NOW)),
        (ExclusionRequest, lambda b: b.exclusion("fuzz", NOW)),
        (OverrideRequest, lambda b: b.expires_at(NOW)),
    ]
    for model, make in makers:
        try:
            body = model.model_validate_json(raw or b"{}")
            made = make(body)
        except (ValidationError, ValueError):
            continue
        if isinstance(made, Silence):
            Silence.model_validate_json(made.model_dump_json())  # what followers read back
            for now in (NOW, made.starts_at, made.ends_at):
                silence_json(made, now)
        elif isinstance(made, Exclusion):
            Exclusion.model_validate_json(made.model_dump_json())
            exclusion_json(made)
        else:
            assert isinstance(made, float)
            _iso(made)


def otlp(data: bytes) -> None:
    """An OTLP traces message from a Kafka topic (JSON when it starts with "{", else protobuf):
    refused whole as invalid_otlp or too_large, or every span is counted, ignored or rejected
    by a known reason; never internal_error, and the DLQ record is one and bounded."""
    cfg = _config()
    tally: dict[str, int] = {}
    read = OtlpReader("json" if data[:1] == b"{" else "proto", tally.update)
    agg = Aggregate()
    rejections = ingest_message(data, cfg, NOW, agg, {}, offset=1, read=read)
    reasons = {r.reason for r in rejections}
    if not reasons <= set(REASONS) or "internal_error" in reasons:
        raise Finding(f"reasons {reasons}: {[r.error for r in rejections][:3]}")
    whole = len(rejections) == 1 and rejections[0].reason in ("invalid_otlp", "too_large")
    if not whole:
        spans = sum(
            len(ss.spans)
            for rs in decode_traces(data, read.encoding).resource_spans
            for ss in rs.scope_spans
        )
        if sum(tally.values()) != spans:
            raise Finding(f"{spans} spans but {tally}")
    if rejections and len(dlq_record(data, rejections)) > DLQ_RECORD_MAX:
        raise Finding("dead-letter record over its bound")
    for cells in agg.counts.values():
        if any(not 0 <= bad <= total for bad, total in cells.values()):
            raise Finding(f"impossible counts {cells}")


HARNESSES: dict[str, Callable[[bytes], None]] = {
    "ingest": ingest,
    "config": config,
    "api": api,
    "otlp": otlp,
}
