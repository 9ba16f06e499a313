"""Dead letters: why an input cannot count (a bounded set of reason codes, safe as a metric
label) and the one DLQ record per Kafka message that carries it with the original bytes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

REASONS = (
    "invalid_json",
    "not_an_object",
    "missing_field",
    "invalid_type",
    "invalid_value",
    "negative_count",
    "good_exceeds_total",
    "unknown_service",
    "unknown_slo",
    "ambiguous_slo",
    "future_timestamp",
    "late",
    "too_large",
    "invalid_otlp",
    "internal_error",
)

DLQ_RAW_MAX = 64 * 1024  # bytes of the original message kept in a DLQ record
DLQ_LISTED_MAX = 20  # rejected elements of one array message listed one by one
DLQ_ELEMENT_MAX = 4096  # bytes of each listed element


@dataclass(frozen=True)
class Rejection:
    """An outcome that cannot count; goes to the DLQ with its reason and original bytes.

    ``index`` is the outcome's position when the message is a JSON array (None: the message is
    the outcome, and ``raw`` its bytes); ``element`` is then the decoded element, encoded for
    the DLQ only if it is listed (most rejections of a huge array are only counted).
    """

    reason: str  # one of REASONS
    error: str  # what was expected, for the human reading the DLQ
    raw: bytes = b""
    index: int | None = None
    element: Any = None

    def element_text(self) -> str | None:
        """The element as JSON text (at most DLQ_ELEMENT_MAX bytes), or None when it cannot be
        written back (nested deeper than the encoder allows; the message's ``raw`` has it)."""
        try:
            own = self.raw or orjson.dumps(self.element)
        except (TypeError, orjson.JSONEncodeError):
            return None
        return _text(own[:DLQ_ELEMENT_MAX])


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "backslashreplace")


def dlq_record(
    message: bytes, rejections: Sequence[Rejection], source: Mapping[str, object] | None = None
) -> bytes:
    """The one DLQ record of one Kafka message, however many of its outcomes were rejected:
    the first reason and error, the original bytes as text (at most DLQ_RAW_MAX), and for an
    array the count per reason with the first DLQ_LISTED_MAX rejected elements by index.

    One record per message bounds what a hostile producer can make us write: a 200 KB array of
    100,000 bad elements is one record, not 100,000. ``source`` (topic, partition, offset)
    names the message it was.
    """
    first = rejections[0]
    record: dict[str, object] = {
        "reason": first.reason,
        "error": first.error,
        "raw": _text(message[:DLQ_RAW_MAX]),
    }
    if len(message) > DLQ_RAW_MAX:
        record["raw_truncated_from_bytes"] = len(message)
    record.update(source or {})
    if first.index is None:
        return orjson.dumps(record)
    reasons: dict[str, int] = {}
    for r in rejections:
        reasons[r.reason] = reasons.get(r.reason, 0) + 1
    listed = []
    for r in rejections[:DLQ_LISTED_MAX]:
        entry: dict[str, object] = {"index": r.index, "reason": r.reason, "error": r.error}
        text = r.element_text()
        if text is not None:
            entry["outcome"] = text
        listed.append(entry)
    record.update(rejected=len(rejections), reasons=reasons, rejections=listed)
    if len(rejections) > DLQ_LISTED_MAX:
        record["rejections_not_listed"] = len(rejections) - DLQ_LISTED_MAX
    return orjson.dumps(record)


def internal_error(exc: BaseException) -> str:
    """The error text of an ``internal_error``: the exception's class and message, short."""
    return f"{type(exc).__name__}: {exc}"[:500]


def rejected_by_reason(record: Mapping[str, Any]) -> dict[str, int]:
    """How many outcomes one DLQ record rejected, per reason (an array's record counts each
    rejected element; a single outcome's, one)."""
    reasons = record.get("reasons")
    if isinstance(reasons, dict):
        return {str(k): int(v) for k, v in reasons.items()}
    return {str(record.get("reason")): 1}
