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

from dataclasses import dataclass, field
from typing import Any

from streams.config.model import Config
from streams.core.slo import SLO
from streams.ingest.dead_letters import Rejection
from streams.ingest.judging import judge_request

KIND_NUMBERS = {"server": 2, "consumer": 5}  # OTLP SpanKind
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

    def note(self, result: str, n: int = 1) -> None:
        if n:
            self.results[result] = self.results.get(result, 0) + n

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
    key = HTTP_STATUS_KEYS[0]
    value = attrs.get(key)
    if value is None:
        key = HTTP_STATUS_KEYS[1]
        value = attrs.get(key)
    if value is not None:
        code = _number(value)
        if code is None or not 100 <= code <= 599:
            return f"{key}: expected an HTTP status code (100-599)"
        return code, (False if bad else None)
    value = attrs.get("rpc.grpc.status_code")
    if value is not None:
        grpc = _number(value)
        if grpc is None or not 0 <= grpc <= 16:
            return "rpc.grpc.status_code: expected a gRPC status code (0-16)"
        bad = bad or grpc in GRPC_SERVER_ERRORS
    return 0, not bad


def _names(span: Any, attrs: Any) -> tuple[str, ...]:
    """The names an SLO's operations match: the span's name, its route, "METHOD route"."""
    route = attrs.get("http.route")
    if route is None or not route.string_value:
        return (span.name,)
    method = attrs.get("http.request.method") or attrs.get("http.method")
    r = route.string_value
    return (span.name, r, f"{method.string_value} {r}") if method else (span.name, r)


def count_spans(request: Any, cfg: Config, now: float) -> SpanCounts:
    """Judge every span of a decoded request (streams.ingest.otlp_wire) against the SLOs of
    its service. ``now`` (unix seconds) bounds how far ahead an end time may lie."""
    out = SpanCounts()
    for rs in request.resource_spans:
        name = rs.resource.attributes.get("service.name")
        service = name.string_value if name is not None else ""
        slos = cfg.slos_of(service)
        if slos:
            _count_resource(out, rs, service, slos, cfg, now)
        else:
            out.note("unknown_service", sum(len(ss.spans) for ss in rs.scope_spans))
    return out


def _count_resource(
    out: SpanCounts, rs: Any, service: str, slos: tuple[SLO, ...], cfg: Config, now: float
) -> None:
    """Count the spans of one resource (one service) for its SLOs."""
    ahead = cfg.settings.max_future_seconds
    ahead_ns = (now + ahead) * 1e9
    plans = [(s, {KIND_NUMBERS[k] for k in s.span_kinds}, s.operations is not None) for s in slos]
    requests = set().union(*(kinds for _, kinds, _ in plans))
    any_ops = any(ops for _, _, ops in plans)
    cells = out.cells
    counted = ignored = uncovered = 0
    for ss in rs.scope_spans:
        for span in ss.spans:
            kind = span.kind
            if kind not in requests:
                ignored += 1
                continue
            start, end = span.start_time_unix_nano, span.end_time_unix_nano
            if not 0 < start <= end:
                out.reject("invalid_value", "span times: expected 0 < start <= end", span, service)
                continue
            if end > ahead_ns:
                error = f"end_time_unix_nano: more than {ahead}s ahead"
                out.reject("future_timestamp", error, span, service)
                continue
            attrs = span.attributes
            status = _status(attrs, span.status.code)
            if isinstance(status, str):
                out.reject("invalid_value", status, span, service)
                continue
            code, ok = status
            latency_ms, second = (end - start) / 1e6, end // 1_000_000_000
            names = _names(span, attrs) if any_ops else ()
            hit = False
            for slo, kinds, ops in plans:
                if kind not in kinds or (ops and not slo.covers(names)):
                    continue
                good = judge_request(slo, code, ok, latency_ms)
                if good is None:
                    continue
                cell = cells.setdefault((service, slo.id, second), [0, 0])
                cell[0] += good
                cell[1] += 1
                hit = True
            counted += hit
            uncovered += not hit
    for result, n in (("counted", counted), ("not_a_request", ignored), ("no_slo", uncovered)):
        out.note(result, n)
