"""Unix times at the edges: the range sloburn accepts from outside (API bodies, stored
records), and the one way it writes them for people (ISO 8601 UTC).

Python's datetime ends in the year 9999 (unix 253,402,300,799); a time past it made every
listing of silences answer 500 for good once one such silence was stored. Anything outside
1970..2100 is a unit mistake (milliseconds for seconds) or hostile, so it is refused where it
enters, with what was expected.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import Field

EARLIEST = 0.0  # 1970-01-01T00:00:00Z
LATEST = 4_102_444_800.0  # 2100-01-01T00:00:00Z

UnixSeconds = Annotated[float, Field(ge=EARLIEST, le=LATEST, allow_inf_nan=False)]
"""Unix seconds between 1970 and 2100."""


def iso(ts: float | None) -> str | None:
    """Unix seconds as ISO 8601 UTC (None stays None)."""
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()
