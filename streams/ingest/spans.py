"""OpenTelemetry spans as request outcomes, counted per service, SLO and second.

Follows the OpenTelemetry semantic conventions: a request is a SERVER span (CONSUMER too when an
SLO says so) of the ``service.name`` resource; it happened at its end time and took its
duration; ``http.response.status_code`` (or the older ``http.status_code``) is its status, a
gRPC server error (``rpc.grpc.status_code`` UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED,
INTERNAL, UNAVAILABLE, DATA_LOSS) or the span status ERROR makes it bad. Its operation names
are the span name, ``http.route`` and "METHOD route", which an SLO's ``operations`` match.

Pre-counting per (service, SLO, second) is what keeps the pipeline's cost flat however many
spans arrive: a 512-span request becomes a handful of pre-counted outcomes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from streams.config.model import Config
from streams.core.slo import SLO
from streams.ingest.dead_letters import Rejection
from streams.ingest.outcomes import judge_request

KIND_NUMBERS = {"server": 2, "consumer": 5}  # OTLP SpanKind
_KIND_NAMES = {n: k for k, n in KIND_NUMBERS.items()}
STATUS_ERROR = 2  # OTLP Status.code STATUS_CODE_ERROR
# gRPC codes that are the server's failure (semantic conventions, gRPC server spans).
GRPC_SERVER_ERRORS = frozenset({2, 4, 12, 13, 14, 15})
HTTP_STATUS_KEYS = ("http.response.status_code", "http.status_code")

# Why a span did not count (labels of sloburn_otlp_spans_total, with "counted").
IGNORED = ("not_a_request", "unknown_service", "no_slo")


@dataclass
class SpanCounts:
    """What one OTLP request's spans amount to."""

    # (service, SLO id, unix second of the end time) -> [good, total]
    cells: dict[tuple[str, str, int], list[int]] = field(default_factory=dict)
    results: dict[str, int] = field(default_factory=dict)  # counted, IGNORED, rejected
    rejections: list[Rejection] = field(default_factory=list)  # one per rejected span

    def note(self, result: str) -> None:
        self.results[result] = self.results.get(result, 0) + 1

    def reject(self, reason: str, error: str, span: Any, service: str) -> None:
        self.note("rejected")
        element = {
            "service": service,
            "name": span.name,
            "start_time_unix_nano": span.start_time_unix_nano,
            "end_time_unix_nano": span.end_time_unix_nano,
        }
        self.rejections.append(Rejection(reason, error, b"", len(self.rejections), element))

    def outcomes(self) -> dict[str, list[dict[str, Any]]]:
        """Pre-counted outcomes per service, as sloburn.outcomes takes them."""
        out: dict[str, list[dict[str, Any]]] = {}
        for (service, slo_id, second), (good, total) in self.cells.items():
            out.setdefault(service, []).append(
                {"service": service, "slo": slo_id, "ts": second, "good": good, "total": total}
            )
        return out


def _number(value: Any) -> int | None:
    """An integer attribute (some instrumentations send status codes as strings)."""
    kind = value.WhichOneof("value")
    if kind == "int_value":
        return int(value.int_value)
    if kind == "string_value" and value.string_value.isdigit():
        return int(value.string_value)
    return None


def _status(attrs: Any, span_status: int) -> tuple[int, bool | None] | str:
    """(HTTP status, explicit good/bad) of a span, or why its status cannot be read: an HTTP
    status is judged by the SLO (unless the span status says ERROR), a span without one is
    good unless its status or gRPC code says otherwise."""
    bad = span_status == STATUS_ERROR
    for key in HTTP_STATUS_KEYS:
        if key in attrs:
            code = _number(attrs[key])
            if code is None or not 100 <= code <= 599:
                return f"{key}: expected an HTTP status code (100-599)"
            return code, (False if bad else None)
    if "rpc.grpc.status_code" in attrs:
        grpc = _number(attrs["rpc.grpc.status_code"])
        if grpc is None or not 0 <= grpc <= 16:
            return "rpc.grpc.status_code: expected a gRPC status code (0-16)"
        bad = bad or grpc in GRPC_SERVER_ERRORS
    return 0, not bad


def _names(span: Any, attrs: Any) -> tuple[str, ...]:
    route = attrs["http.route"].string_value if "http.route" in attrs else ""
    if not route:
        return (span.name,)
    method = next(
        (attrs[k].string_value for k in ("http.request.method", "http.method") if k in attrs), ""
    )
    return (span.name, route, f"{method} {route}") if method else (span.name, route)


def _spans(request: Any) -> Iterator[tuple[str, Any]]:
    for rs in request.resource_spans:
        attrs = rs.resource.attributes
        service = attrs["service.name"].string_value if "service.name" in attrs else ""
        for ss in rs.scope_spans:
            for span in ss.spans:
                yield service, span


def count_spans(request: Any, cfg: Config, now: float) -> SpanCounts:
    """Judge every span of a decoded request (streams.ingest.otlp_wire) against the SLOs of
    its service. ``now`` (unix seconds) bounds how far ahead an end time may lie."""
    out = SpanCounts()
    ahead_ns = (now + cfg.settings.max_future_seconds) * 1e9
    kinds: dict[str, frozenset[int]] = {}
    for service, span in _spans(request):
        slos = cfg.slos_of(service)
        if not slos:
            out.note("unknown_service")
            continue
        counted = kinds.get(service)
        if counted is None:
            counted = kinds[service] = frozenset(
                KIND_NUMBERS[k] for s in slos for k in s.span_kinds
            )
        if span.kind not in counted:
            out.note("not_a_request")
            continue
        start, end = span.start_time_unix_nano, span.end_time_unix_nano
        if not 0 < start <= end:
            out.reject("invalid_value", "span times: expected 0 < start <= end", span, service)
            continue
        if end > ahead_ns:
            error = f"end_time_unix_nano: more than {cfg.settings.max_future_seconds}s ahead"
            out.reject("future_timestamp", error, span, service)
            continue
        attrs = span.attributes
        status = _status(attrs, span.status.code)
        if isinstance(status, str):
            out.reject("invalid_value", status, span, service)
            continue
        if not _judge_span(out, slos, span, attrs, status, service):
            out.note("no_slo")
            continue
        out.note("counted")
    return out


def _judge_span(
    out: SpanCounts,
    slos: tuple[SLO, ...],
    span: Any,
    attrs: Any,
    status: tuple[int, bool | None],
    service: str,
) -> bool:
    """Count one request span for every SLO that covers it; whether one did."""
    code, ok = status
    latency_ms = (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6
    second = span.end_time_unix_nano // 1_000_000_000
    names = _names(span, attrs)
    kind = _KIND_NAMES[span.kind]
    hit = False
    for slo in slos:
        if kind not in slo.span_kinds or not slo.covers(names):
            continue
        good = judge_request(slo, code, ok, latency_ms)
        if good is None:
            continue
        cell = out.cells.setdefault((service, slo.id, second), [0, 0])
        cell[0] += good
        cell[1] += 1
        hit = True
    return hit
