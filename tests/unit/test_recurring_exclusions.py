"""Recurring maintenance windows: an RFC 5545 rule and a time zone, expanded by dateutil; every
occurrence keeps its wall-clock time across DST changes and leaves exactly its own cells."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest
from dateutil.rrule import WEEKLY, rrule
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from streams.core.exclusions import Exclusion, ExclusionRequest, exclusion_json, read_exclusions
from streams.core.silences import Matchers
from streams.state.buckets import BucketStore
from streams.state.evaluation import Evaluator
from streams.state.sli_record import SliRecord
from tests.unit.test_slo_math import slo_999

CHECKOUT = slo_999()
ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]


def recurring(first: float, minutes: int, rule: str, zone: str) -> Exclusion:
    return ExclusionRequest(
        matchers=Matchers(slo=CHECKOUT.id),
        starts_at=first,
        ends_at=first + minutes * 60,
        comment="weekly patching",
        rrule=rule,
        timezone=zone,
    ).exclusion("oncall", first)


@settings(max_examples=200, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    day=st.integers(0, 364),
    hour=st.sampled_from([0, 1, 4, 9, 13, 22, 23]),  # not in a DST gap (02:00-03:00 here)
    minute=st.sampled_from([0, 15, 30, 45]),
    minutes=st.integers(15, 180),
    weeks=st.integers(1, 60),
)
def test_a_weekly_window_keeps_its_wall_clock_across_dst_as_dateutil_says(
    zone: str, day: int, hour: int, minute: int, minutes: int, weeks: int
) -> None:
    tz = ZoneInfo(zone)
    first = datetime(2026, 1, 1, hour, minute, tzinfo=tz) + timedelta(days=day)
    e = recurring(first.timestamp(), minutes, "FREQ=WEEKLY", zone)
    lo, hi = first.timestamp(), (first + timedelta(weeks=weeks)).timestamp() - 1
    got = e.spans(lo, hi)
    want = [
        (d.timestamp(), d.timestamp() + minutes * 60)
        for d in rrule(WEEKLY, dtstart=first, count=weeks)
    ]
    assert got == want
    for start, _ in got:  # the same weekday and wall-clock time, whatever the UTC offset
        local = datetime.fromtimestamp(start, tz)
        assert (local.weekday(), local.hour, local.minute) == (first.weekday(), hour, minute)


def test_a_daily_window_leaves_out_exactly_its_hour_on_the_day_clocks_go_forward() -> None:
    # Europe/Berlin went from UTC+1 to UTC+2 at 02:00 on 2027-03-28: the 04:00-05:00 window
    # is 03:00-04:00 UTC the day before and 02:00-03:00 UTC on that day and after.
    tz = ZoneInfo("Europe/Berlin")
    first = datetime(2027, 3, 20, 4, 0, tzinfo=tz).timestamp()
    store = BucketStore({}, 10)
    start = datetime(2027, 3, 26, 0, 0, tzinfo=tz).timestamp()
    minutes = [start + 60 * i for i in range(4 * 24 * 60)]  # an event a minute for four days
    store.apply([SliRecord(CHECKOUT.id, [(0, int(ts), 1, 1) for ts in minutes], minutes[-1], "0")])
    ev = Evaluator(store, {}, 300)
    ev.exclusions = [recurring(first, 60, "FREQ=DAILY", "Europe/Berlin")]
    for day in (26, 27, 28, 29):
        at_five = datetime(2027, 3, day, 5, 0, tzinfo=tz).timestamp()
        window, _, _ = ev.counts(CHECKOUT, at_five - 1)  # cells in (04:00, 05:00) local
        assert window(3600).total == 0, day  # 04:00-05:00 local: all of it left out
        at_six = datetime(2027, 3, day, 6, 0, tzinfo=tz).timestamp()
        window, _, _ = ev.counts(CHECKOUT, at_six - 1)
        assert window(3600).total == 60, day  # 05:00-06:00 local counts whole


@pytest.mark.parametrize(
    ("rule", "zone", "error"),
    [
        ("FREQ=WEEKLY", "Mars/Olympus", "timezone: expected an IANA time zone"),
        ("FREQ=SOMETIMES", "UTC", "rrule: expected an RFC 5545 RRULE"),
        ("DTSTART:20260101T000000\nRRULE:FREQ=DAILY", "UTC", "leave DTSTART out"),
        ("FREQ=MINUTELY", "UTC", "more than 10000 occurrences in 400 days"),
    ],
)
def test_a_rule_or_zone_that_cannot_be_used_is_refused_saying_why(
    rule: str, zone: str, error: str
) -> None:
    with pytest.raises(ValidationError, match=error):
        recurring(1_800_000_000, 60, rule, zone)


def test_one_off_and_recurring_exclusions_show_only_what_overlaps() -> None:
    e = recurring(1_800_000_000, 60, "FREQ=DAILY;COUNT=3", "UTC")
    assert [a for a, _ in e.spans(0, 2e9)] == [1_800_000_000 + d * 86400 for d in range(3)]
    assert e.spans(1_800_000_000 + 3600, 1_800_000_000 + 86399) == []
    once = e.model_copy(update={"rrule": None})
    assert once.spans(1_800_000_000 + 3599, 1_800_000_000 + 3599) == [
        (1_800_000_000, 1_800_003_600)
    ]
    assert once.spans(1_800_003_600, 2e9) == []


def test_a_recurring_exclusion_saved_from_the_api_reads_back_for_a_replay(tmp_path: Path) -> None:
    e = recurring(1_800_000_000, 60, "FREQ=WEEKLY;BYDAY=SU", "Europe/Berlin")
    path = tmp_path / "exclusions.json"
    path.write_bytes(orjson.dumps({"exclusions": [exclusion_json(e)]}))
    [back] = read_exclusions(path)
    assert back == e and back.spans(0, 2e9)[:3] == e.spans(0, 2e9)[:3]
