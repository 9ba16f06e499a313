"""Calendar periods (month, week) in a time zone, as unix-second boundaries."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Calendar = Literal["month", "week"]


def period_bounds(t: float, kind: Calendar, tz: str) -> tuple[int, int]:
    """[start, end) in unix seconds of the calendar period holding t, at local midnight in tz.

    Months start on the 1st, weeks on Monday (ISO). DST is the zone's: a period containing a
    change is an hour shorter or longer.
    """
    zone = ZoneInfo(tz)
    local = datetime.fromtimestamp(t, zone)
    if kind == "month":
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        nxt = (
            start.replace(year=start.year + 1, month=1)
            if start.month == 12
            else start.replace(month=start.month + 1)
        )
    else:
        day = local.date() - timedelta(days=local.weekday())
        start = datetime(day.year, day.month, day.day, tzinfo=zone)
        n = day + timedelta(days=7)
        nxt = datetime(n.year, n.month, n.day, tzinfo=zone)
    return int(start.timestamp()), int(nxt.timestamp())
