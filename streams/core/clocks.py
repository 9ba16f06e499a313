"""Per-SLO evaluation clocks: event time first, advanced by wall time while traffic is quiet.

An outage in which traffic stops must still fire and later resolve, so between events an SLO's
clock moves on at wall-clock speed from its newest event time, but never past now.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SloClock:
    """Newest event time seen (unix s) and the wall time (unix s) it was seen at."""

    newest_event: float
    seen_at: float

    def observe(self, event_ts: float, now: float) -> None:
        """Record a batch's newest event time, observed at wall time ``now``."""
        if event_ts > self.newest_event:
            self.newest_event = event_ts
            self.seen_at = now

    def at(self, now: float) -> float:
        """The SLO's evaluation time at wall time ``now`` (unix seconds)."""
        advanced = min(now, self.newest_event + max(0.0, now - self.seen_at))
        return max(self.newest_event, advanced)
