"""OTLP/HTTP traces in: ``POST /v1/traces``, as every OpenTelemetry SDK and the Collector's
``otlphttp`` exporter send them, answered as the OTLP specification says.

Spans become pre-counted outcomes per service, SLO and second (streams.ingest.spans), produced
to ``sloburn.outcomes`` keyed by service; the answer waits until Kafka has them, so a 200 means
they will count. Rejected spans are named in ``partial_success`` (the exporter logs it), not
dead-lettered: the sender is told, and a dead-letter record per bad request would let any
client fill the topic. Answers: 200; 400 undecodable; 413 over ``otlp.max_request_bytes``
(inflated: gzip is accepted); 415 another content type; 429 when
``otlp.max_inflight_requests`` are being handled and 503 when Kafka does not take the
outcomes, both with Retry-After, so exporters retry later instead of dropping.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from streams.config.model import Config
from streams.http.common import Resource, mount
from streams.ingest.otlp_wire import (
    Encoding,
    OtlpDecodeError,
    decode_traces,
    export_response,
    status_body,
)
from streams.ingest.spans import count_spans
from streams.runtime.metrics import OtlpMetrics
from streams.runtime.wiring import Wiring

PATH = "/v1/traces"
ENCODINGS: dict[str, Encoding] = {"application/x-protobuf": "proto", "application/json": "json"}
CONTENT_TYPES = {v: k for k, v in ENCODINGS.items()}
OUTCOMES_PER_MESSAGE = 5000  # pre-counted outcomes per Kafka message (~80 bytes each)
RETRY_BUSY_S, RETRY_KAFKA_S = 1, 5
# How long an export waits for Kafka to take its outcomes: under the exporters' own 10 s
# timeout, so they get the 503 (and back off) rather than time out.
SEND_TIMEOUT_S = 5.0
# google.rpc.Code of each error answer
INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNAVAILABLE = 3, 8, 14

# Produces one message (key: service) to sloburn.outcomes; returns once Kafka has it.
Send = Callable[[bytes, bytes], Awaitable[None]]


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, body and its type, extra headers."""

    status: int
    body: bytes
    content_type: str = CONTENT_TYPES["json"]
    headers: dict[str, str] = field(default_factory=dict)


async def delivered(sent: Awaitable[Any]) -> None:
    """Wait until Kafka has a produced message, at most SEND_TIMEOUT_S (TimeoutError)."""
    await asyncio.wait_for(asyncio.shield(sent), SEND_TIMEOUT_S)


def encoding_of(content_type: str | None) -> Encoding | None:
    """The OTLP encoding a Content-Type names (parameters and case ignored), if any."""
    return ENCODINGS.get((content_type or "").split(";", 1)[0].strip().lower())


class BodyTooLarge(Exception):
    """The request body is over the limit."""


def _error(
    status: int, code: int, message: str, encoding: Encoding, retry_s: int | None = None
) -> Answer:
    headers = {"Retry-After": str(retry_s)} if retry_s is not None else {}
    return Answer(status, status_body(code, message, encoding), CONTENT_TYPES[encoding], headers)


class TracesReceiver:
    """Turns export requests into produced outcomes; one per process (worker or sloburn otlp).

    ``config`` is read per request, so a worker's reload applies at once."""

    def __init__(
        self,
        config: Callable[[], Config],
        send: Send,
        metrics: OtlpMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config, self.send, self.metrics, self.clock = config, send, metrics, clock
        self.inflight = 0

    async def export(self, body: bytes, content_type: str | None) -> Answer:
        """The answer to one POST /v1/traces (``body`` already inflated)."""
        answer = await self._export(body, content_type)
        self.metrics.requests.labels(str(answer.status)).inc()
        return answer

    async def _export(self, body: bytes, content_type: str | None) -> Answer:
        encoding = encoding_of(content_type)
        if encoding is None:
            expected = " or ".join(ENCODINGS)
            return _error(415, INVALID_ARGUMENT, f"Content-Type: expected {expected}", "json")
        cfg = self.config()
        if self.inflight >= cfg.otlp.max_inflight_requests:
            busy = "too many export requests in progress; retry later"
            return _error(429, RESOURCE_EXHAUSTED, busy, encoding, RETRY_BUSY_S)
        self.inflight += 1
        try:
            return await self._convert(body, encoding, cfg)
        finally:
            self.inflight -= 1

    async def _convert(self, body: bytes, encoding: Encoding, cfg: Config) -> Answer:
        try:
            request = decode_traces(body, encoding)
        except OtlpDecodeError as e:
            return _error(400, INVALID_ARGUMENT, str(e), encoding)
        counts = count_spans(request, cfg, self.clock())
        try:
            await asyncio.gather(
                *(
                    self.send(service.encode(), orjson.dumps(outs[i : i + OUTCOMES_PER_MESSAGE]))
                    for service, outs in counts.outcomes().items()
                    for i in range(0, len(outs), OUTCOMES_PER_MESSAGE)
                )
            )
        except Exception as e:  # whatever Kafka said: the exporter retries the whole request
            down = f"Kafka did not take the outcomes ({type(e).__name__}); retry later"
            return _error(503, UNAVAILABLE, down, encoding, RETRY_KAFKA_S)
        self.metrics.tally(counts.results)
        rejected = counts.rejections
        message = ""
        if rejected:
            first = rejected[0]
            message = f"{len(rejected)} span(s) rejected; first: {first.reason}: {first.error}"
        return Answer(
            200, export_response(len(rejected), message, encoding), CONTENT_TYPES[encoding]
        )


async def read_body(request: Any, limit: int) -> bytes:
    """An aiohttp request's body, at most ``limit`` bytes (BodyTooLarge beyond, read no
    further than that). aiohttp inflates a gzip (or deflate) body as it is read, in bounded
    steps, so the limit holds for the inflated bytes and a gzip bomb stops at it."""
    length = request.content_length
    if length is not None and length > limit:
        raise BodyTooLarge
    body: bytes = await request.content.read(limit + 1)
    if len(body) > limit:
        raise BodyTooLarge
    return body


async def answer_request(receiver: TracesReceiver, request: Any) -> Answer:
    """Read and answer one aiohttp request to PATH."""
    limit = receiver.config().otlp.max_request_bytes
    headers = request.headers
    content_type = headers.get("Content-Type")
    try:
        body = await read_body(request, limit)
    except BodyTooLarge:
        receiver.metrics.requests.labels("413").inc()
        encoding = encoding_of(content_type) or "json"
        return _error(413, INVALID_ARGUMENT, f"body: over {limit} bytes", encoding)
    return await receiver.export(body, content_type)


class Traces(Resource):
    """The worker's own POST /v1/traces (small setups; scale out with ``sloburn otlp``)."""

    receiver: TracesReceiver

    async def post(self, request: Any) -> Any:
        a = await answer_request(self.receiver, request)
        return self.bytes(a.body, content_type=a.content_type, status=a.status, headers=a.headers)


def register(w: Wiring, tokens: Mapping[str, str]) -> None:
    """Serve PATH on the worker, producing through its own Kafka producer."""

    async def send(key: bytes, value: bytes) -> None:
        await delivered(await w.outcomes.send(key=key, value=value))

    receiver = TracesReceiver(lambda: w.cfg, send, w.metrics.otlp)
    mount(w, tokens, PATH, type("Traces", (Traces,), {"receiver": receiver}))
