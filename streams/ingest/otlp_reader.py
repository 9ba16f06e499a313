"""The Reader of a topic the OpenTelemetry Collector's Kafka exporter writes (``otlp_proto`` or
``otlp_json`` traces): each message's spans become pre-counted outcomes that go through the
same judgment, dead-lettering and offset bookkeeping as ``sloburn.outcomes``, so a redelivered
message never counts twice."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from streams.config.model import Config
from streams.ingest.dead_letters import Rejection
from streams.ingest.otlp_wire import Encoding, OtlpDecodeError, decode_traces
from streams.ingest.outcomes import Items
from streams.ingest.spans import count_spans


class OtlpReader:
    """Reads one OTLP encoding; hands what the spans amounted to (counted, ignored, rejected
    per result) to ``tally``, as ignored spans are counted, not dead-lettered."""

    def __init__(self, encoding: Encoding, tally: Callable[[Mapping[str, int]], None]) -> None:
        self.encoding = encoding
        self.tally = tally

    def __call__(self, raw: bytes, cfg: Config, now: float) -> Items | Rejection:
        limit = cfg.settings.max_message_bytes
        if len(raw) > limit:
            return Rejection(
                "too_large", f"(message): {len(raw)} bytes, expected at most {limit}", raw
            )
        try:
            request = decode_traces(raw, self.encoding)
        except OtlpDecodeError as e:
            return Rejection("invalid_otlp", f"(message): {e}", raw)
        counts = count_spans(request, cfg, now)
        self.tally(counts.results)
        items: Items = [(o, None) for outs in counts.outcomes().values() for o in outs]
        items.extend((r, None) for r in counts.rejections)
        return items
