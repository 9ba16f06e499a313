"""OpenTelemetry spans in: the slim protobuf schema reads what opentelemetry-proto writes, spans
map to outcomes as the semantic conventions say, and POST /v1/traces answers as OTLP says."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from prometheus_client import CollectorRegistry

from streams.config.loading import load_config
from streams.config.model import Config
from streams.http.otlp import TracesReceiver
from streams.ingest.aggregate import Aggregate
from streams.ingest.otlp_reader import OtlpReader
from streams.ingest.otlp_wire import OtlpDecodeError, decode_traces
from streams.ingest.outcomes import ingest_message
from streams.ingest.spans import count_spans
from streams.runtime.metrics import OtlpMetrics

CONFIG = """
services:
  checkout-api:
    sli_type: success_rate
    target: 0.999
    window_days: 30
    operations: ["POST /pay"]
  search-api:
    sli_type: latency
    target: 0.99
    window_days: 28
    latency_threshold_ms: 300
  queue-worker:
    sli_type: success_rate
    target: 0.99
    window_days: 28
    span_kinds: [server, consumer]
  grpc-api:
    sli_type: success_rate
    target: 0.99
    window_days: 28
"""
NOW = 1_800_000_000.0
SERVER, CLIENT, CONSUMER = 2, 3, 5
ATTRIBUTES = {
    "http_response_status_code": "http.response.status_code",
    "http_status_code": "http.status_code",
    "rpc_grpc_status_code": "rpc.grpc.status_code",
    "http_request_method": "http.request.method",
    "http_route": "http.route",
}


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Config:
    path = tmp_path_factory.mktemp("otlp") / "slo.yaml"
    path.write_text(CONFIG)
    return load_config([path])


def span(
    name: str = "GET /",
    kind: int = SERVER,
    end: float = NOW - 10,
    ms: float = 20,
    status: int = 0,
    **attrs: Any,
) -> dict[str, Any]:
    return {"name": name, "kind": kind, "end": end, "ms": ms, "status": status, "attrs": attrs}


def request(spans_by_service: dict[str | None, list[dict[str, Any]]]) -> ExportTraceServiceRequest:
    """An ExportTraceServiceRequest built with opentelemetry-proto, as SDKs and the Collector
    write them."""
    req = ExportTraceServiceRequest()
    for service, spans in spans_by_service.items():
        rs = req.resource_spans.add()
        if service is not None:
            rs.resource.attributes.add(key="service.name").value.string_value = service
        rs.resource.attributes.add(key="host.name").value.string_value = "h1"
        ss = rs.scope_spans.add()
        ss.scope.name = "test"
        for sp in spans:
            s = ss.spans.add()
            s.trace_id, s.span_id = bytes(range(16)), bytes(range(8))
            s.name, s.kind = sp["name"], sp["kind"]
            s.end_time_unix_nano = int(sp["end"] * 1e9)
            s.start_time_unix_nano = int(s.end_time_unix_nano - sp["ms"] * 1e6)
            s.status.code = sp["status"]
            for key, value in sp["attrs"].items():
                a = s.attributes.add(key=ATTRIBUTES[key])
                if isinstance(value, int):
                    a.value.int_value = value
                else:
                    a.value.string_value = value
            extra = s.attributes.add(key="http.request.header.x")
            extra.value.array_value.values.add().string_value = "ignored"
    return req


def counts(cfg: Config, req: ExportTraceServiceRequest) -> dict[tuple[str, str, int], list[int]]:
    return count_spans(decode_traces(req.SerializeToString(), "proto"), cfg, NOW).cells


def test_http_status_decides_a_server_span_and_5xx_or_error_status_is_bad(cfg: Config) -> None:
    second = int(NOW - 10)
    spans = [
        span(http_response_status_code=200),
        span(http_response_status_code=404),  # a client error is the service working
        span(http_response_status_code=503),
        span(http_status_code="500"),  # the older attribute, as a string
        span(http_response_status_code=200, status=2),  # ERROR overrides a 200
        span(),  # no status at all: good unless the span says ERROR
        span(kind=CLIENT, http_response_status_code=503),  # an outgoing call: not a request
    ]
    got = count_spans(
        decode_traces(request({"grpc-api": spans}).SerializeToString(), "proto"), cfg, NOW
    )
    assert got.cells == {("grpc-api", "grpc-api:success_rate", second): [3, 6]}
    assert got.results == {"counted": 6, "not_a_request": 1}


def test_grpc_server_errors_are_bad_and_client_errors_good(cfg: Config) -> None:
    spans = [span(rpc_grpc_status_code=c) for c in (0, 3, 5, 7, 2, 4, 13, 14)]
    assert counts(cfg, request({"grpc-api": spans})) == {
        ("grpc-api", "grpc-api:success_rate", int(NOW - 10)): [4, 8]
    }


def test_operations_pick_the_requests_an_slo_covers(cfg: Config) -> None:
    spans = [
        span(
            "POST /pay",
            http_request_method="POST",
            http_route="/pay",
            http_response_status_code=503,
        ),
        span("POST", http_request_method="POST", http_route="/pay", http_response_status_code=200),
        span(
            "GET /cart",
            http_request_method="GET",
            http_route="/cart",
            http_response_status_code=500,
        ),
        span("POST /pay"),  # the span name alone, as a non-HTTP instrumentation names it
    ]
    got = count_spans(
        decode_traces(request({"checkout-api": spans}).SerializeToString(), "proto"), cfg, NOW
    )
    assert got.cells == {("checkout-api", "checkout-api:success_rate", int(NOW - 10)): [2, 3]}
    assert got.results == {"counted": 3, "no_slo": 1}


def test_duration_is_the_latency_and_end_time_the_event_time(cfg: Config) -> None:
    spans = [span(end=NOW - 61.5, ms=299), span(end=NOW - 61.2, ms=301), span(end=NOW - 3, ms=5)]
    assert counts(cfg, request({"search-api": spans})) == {
        ("search-api", "search-api:latency", int(NOW - 62)): [1, 2],
        ("search-api", "search-api:latency", int(NOW - 3)): [1, 1],
    }


def test_consumer_spans_count_only_where_an_slo_says_so(cfg: Config) -> None:
    spans = [span(kind=CONSUMER), span(kind=CONSUMER, status=2)]
    assert counts(cfg, request({"queue-worker": spans})) == {
        ("queue-worker", "queue-worker:success_rate", int(NOW - 10)): [1, 2]
    }
    assert counts(cfg, request({"grpc-api": spans})) == {}


def test_unknown_services_are_counted_not_rejected(cfg: Config) -> None:
    req = request({"billing": [span(), span()], None: [span()]})
    got = count_spans(decode_traces(req.SerializeToString(), "proto"), cfg, NOW)
    assert got.cells == {} and got.rejections == []
    assert got.results == {"unknown_service": 3}


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (span(end=NOW + 3600), "future_timestamp"),
        (span(ms=-5), "invalid_value"),  # ends before it starts
        (span(end=0, ms=0), "invalid_value"),  # no times at all
        (span(http_response_status_code=999), "invalid_value"),
        (span(http_response_status_code="abc"), "invalid_value"),
        (span(rpc_grpc_status_code=99), "invalid_value"),
    ],
)
def test_absurd_spans_are_rejected_with_a_reason_and_the_rest_count(
    cfg: Config, bad: dict[str, Any], reason: str
) -> None:
    req = request({"grpc-api": [span(), bad, span()]})
    got = count_spans(decode_traces(req.SerializeToString(), "proto"), cfg, NOW)
    assert [r.reason for r in got.rejections] == [reason]
    assert got.cells == {("grpc-api", "grpc-api:success_rate", int(NOW - 10)): [2, 2]}


def test_json_and_protobuf_encodings_count_the_same(cfg: Config) -> None:
    req = request({"grpc-api": [span(http_response_status_code=c) for c in (200, 503, 201)]})
    as_json = json_format.MessageToJson(req).encode()  # lowerCamelCase, as OTLP JSON is
    assert b"resourceSpans" in as_json
    a = count_spans(decode_traces(as_json, "json"), cfg, NOW).cells
    assert a == counts(cfg, req) == {("grpc-api", "grpc-api:success_rate", int(NOW - 10)): [2, 3]}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0, 1, 2, 3, 4, 5]),
            st.integers(min_value=1, max_value=2**63),
            st.integers(min_value=0, max_value=2**63),
            st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=5)),
            st.sampled_from([0, 1, 2]),
        ),
        max_size=8,
    )
)
def test_the_slim_schema_reads_what_opentelemetry_proto_writes(spans: list[Any]) -> None:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = "svc"
    ss = rs.scope_spans.add()
    for kind, start, end, status_attr, code in spans:
        s = ss.spans.add(name="op", kind=kind, start_time_unix_nano=start, end_time_unix_nano=end)
        s.status.code = code
        s.events.add(name="exception")
        if isinstance(status_attr, int):
            s.attributes.add(key="http.response.status_code").value.int_value = status_attr
        elif isinstance(status_attr, str):
            s.attributes.add(key="http.response.status_code").value.string_value = status_attr
    slim = decode_traces(req.SerializeToString(), "proto")
    got = [
        (
            s.kind,
            s.start_time_unix_nano,
            s.end_time_unix_nano,
            s.status.code,
            {
                k: v.WhichOneof("value") and getattr(v, v.WhichOneof("value"))
                for k, v in s.attributes.items()
            },
        )
        for s in slim.resource_spans[0].scope_spans[0].spans
    ]
    want = [
        (
            s.kind,
            s.start_time_unix_nano,
            s.end_time_unix_nano,
            s.status.code,
            {a.key: getattr(a.value, a.value.WhichOneof("value")) for a in s.attributes},
        )
        for s in ss.spans
    ]
    assert got == want
    assert slim.resource_spans[0].resource.attributes["service.name"].string_value == "svc"


@pytest.mark.parametrize(
    "body",
    [
        b"\x0a\xff\xff\xff\xff\x0f",  # a length far past the end
        request({"grpc-api": [span()]}).SerializeToString()[:-7],  # truncated
        b"\x00" * 10,  # field number 0
        b'{"resourceSpans": 1}',  # JSON where protobuf belongs
    ],
)
def test_undecodable_protobuf_is_refused_with_the_decoder_reason(body: bytes) -> None:
    with pytest.raises(OtlpDecodeError, match="not an OTLP protobuf"):
        decode_traces(body, "proto")


@pytest.mark.parametrize(
    "body", [b"{", b"[]", b'{"resourceSpans": [{"scopeSpans": 7}]}', b"\xff\xfe", b"[" * 100_000]
)
def test_undecodable_json_is_refused_with_the_decoder_reason(body: bytes) -> None:
    with pytest.raises(OtlpDecodeError, match="not an OTLP JSON"):
        decode_traces(body, "json")


class Sent:
    def __init__(self, fail: bool = False, hold: asyncio.Event | None = None) -> None:
        self.messages: list[tuple[bytes, list[dict[str, Any]]]] = []
        self.fail, self.hold = fail, hold

    async def __call__(self, key: bytes, value: bytes) -> None:
        if self.hold is not None:
            await self.hold.wait()
        if self.fail:
            raise ConnectionError("no broker")
        self.messages.append((key, orjson.loads(value)))


def receiver(cfg: Config, send: Sent) -> TracesReceiver:
    return TracesReceiver(lambda: cfg, send, OtlpMetrics(CollectorRegistry()), clock=lambda: NOW)


PROTO = "application/x-protobuf"


async def test_an_export_produces_pre_counted_outcomes_and_answers_empty(cfg: Config) -> None:
    sent = Sent()
    spans = [span(http_response_status_code=c) for c in [200] * 500 + [503] * 12]
    a = await receiver(cfg, sent).export(request({"grpc-api": spans}).SerializeToString(), PROTO)
    assert (a.status, a.content_type) == (200, PROTO)
    assert ExportTraceServiceResponse.FromString(a.body) == ExportTraceServiceResponse()
    second = int(NOW - 10)
    assert sent.messages == [
        (
            b"grpc-api",
            [
                {
                    "service": "grpc-api",
                    "slo": "grpc-api:success_rate",
                    "ts": second,
                    "good": 500,
                    "total": 512,
                }
            ],
        )
    ]


async def test_rejected_spans_are_named_in_partial_success(cfg: Config) -> None:
    req = request({"grpc-api": [span(), span(end=NOW + 7200), span(ms=-1)]})
    a = await receiver(cfg, Sent()).export(req.SerializeToString(), PROTO)
    partial = ExportTraceServiceResponse.FromString(a.body).partial_success
    assert a.status == 200 and partial.rejected_spans == 2
    assert partial.error_message.startswith("2 span(s) rejected; first: future_timestamp")
    j = await receiver(cfg, Sent()).export(
        json_format.MessageToJson(req).encode(), "application/json"
    )
    assert j.status == 200 and orjson.loads(j.body)["partialSuccess"]["rejectedSpans"] == "2"


@pytest.mark.parametrize(
    ("ctype", "body", "status"),
    [
        ("text/plain", b"x", 415),
        (None, b"x", 415),
        (PROTO, b"\x0a\xff\xff\xff\xff\x0f", 400),
        ("application/json", b"{nope", 400),
        ("application/json; charset=utf-8", b"{}", 200),
    ],
)
async def test_bad_requests_get_clear_answers(
    cfg: Config, ctype: str | None, body: bytes, status: int
) -> None:
    a = await receiver(cfg, Sent()).export(body, ctype)
    assert a.status == status
    if status != 200:
        assert orjson.loads(a.body)["message"] if a.content_type == "application/json" else a.body


async def test_kafka_trouble_is_503_with_retry_after_and_nothing_counted(cfg: Config) -> None:
    r = receiver(cfg, Sent(fail=True))
    a = await r.export(request({"grpc-api": [span()]}).SerializeToString(), PROTO)
    assert a.status == 503 and a.headers == {"Retry-After": "5"}
    assert r.metrics.spans.labels("counted")._value.get() == 0


async def test_too_many_requests_at_once_are_429_with_retry_after(cfg: Config) -> None:
    hold = asyncio.Event()
    r = receiver(cfg, Sent(hold=hold))
    body = request({"grpc-api": [span()]}).SerializeToString()
    busy = [
        asyncio.ensure_future(r.export(body, PROTO)) for _ in range(cfg.otlp.max_inflight_requests)
    ]
    await asyncio.sleep(0.05)
    over = await r.export(body, PROTO)
    assert over.status == 429 and over.headers == {"Retry-After": "1"}
    hold.set()
    assert {a.status for a in await asyncio.gather(*busy)} == {200}
    assert (await r.export(body, PROTO)).status == 200


def test_a_kafka_message_from_the_collector_counts_like_an_export(cfg: Config) -> None:
    tallied: dict[str, int] = {}
    read = OtlpReader(
        "proto", lambda r: tallied.update({k: tallied.get(k, 0) + n for k, n in r.items()})
    )
    raw = request(
        {
            "grpc-api": [span(), span(http_response_status_code=503), span(end=NOW + 9999)],
            "x": [span()],
        }
    ).SerializeToString()
    into, marks = Aggregate(), {}
    rejections = ingest_message(raw, cfg, NOW, into, marks, offset=41, read=read)
    assert [r.reason for r in rejections] == ["future_timestamp"]
    assert into.counts == {"grpc-api:success_rate": {(41, int(NOW - 10) // 10 * 10): [1, 2]}}
    assert tallied == {"counted": 2, "rejected": 1, "unknown_service": 1}
    assert [
        r.reason for r in ingest_message(b"\xff" * 9, cfg, NOW, Aggregate(), {}, read=read)
    ] == ["invalid_otlp"]


def test_the_otlp_section_and_coverage_fields_are_checked(tmp_path: Path) -> None:
    from streams.config.errors import ConfigError

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        CONFIG.replace("span_kinds: [server, consumer]", "span_kinds: [client]")
        + "otlp:\n  kafka_topics:\n    - topic: 'bad topic'\n"
    )
    with pytest.raises(ConfigError) as e:
        load_config([bad])
    text = "\n".join(e.value.lines)
    assert "services.queue-worker.span_kinds[0]: expected" in text
    assert "otlp.kafka_topics[0].topic: string should match" in text
