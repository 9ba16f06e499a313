"""Times at the edges: what sloburn accepts from outside (API bodies, stored records: ISO 8601
with a UTC offset, or unix seconds), and the one way it writes them (ISO 8601 UTC).

Python's datetime ends in the year 9999 (unix 253,402,300,799); a time past it made every
listing of silences answer 500 for good once one such silence was stored. Anything outside
1970..2100 is a unit mistake (milliseconds for seconds) or hostile, so it is refused where it
enters, with what was expected.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema

EARLIEST = 0.0  # 1970-01-01T00:00:00Z
LATEST = 4_102_444_800.0  # 2100-01-01T00:00:00Z


def _seconds(value: Any) -> Any:
    """An ISO 8601 string as unix seconds; anything else is left to the float check. A time
    without an offset is refused: whose local time it meant is a guess an API must not make."""
    if isinstance(value, bool):
        raise ValueError("expected ISO 8601 or unix seconds, not true/false")
    if not isinstance(value, str):
        return value
    try:
        return float(value)
    except ValueError:
        pass
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("expected ISO 8601 (2026-11-29T10:00:00Z) or unix seconds") from None
    if at.tzinfo is None:
        raise ValueError("an ISO 8601 time needs Z or a UTC offset (2026-11-29T10:00:00Z)")
    return at.timestamp()


Instant = Annotated[
    float,
    BeforeValidator(_seconds),
    Field(ge=EARLIEST, le=LATEST, allow_inf_nan=False),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "number", "minimum": EARLIEST, "maximum": LATEST},
            ],
            "description": "ISO 8601 with Z or an offset, or unix seconds; 1970..2100",
        }
    ),
]
"""A time between 1970 and 2100, given as ISO 8601 or unix seconds; held as unix seconds."""


def iso(ts: float | None) -> str | None:
    """Unix seconds as ISO 8601 UTC (None stays None)."""
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


def minute_utc(ts: float) -> str:
    """Unix seconds to the minute, for people: ``2026-11-09 10:05 UTC``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")
