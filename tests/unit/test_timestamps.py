"""Times at the API's edge: ISO 8601 with an offset or unix seconds in, ISO 8601 UTC out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from streams.core.timestamps import EARLIEST, LATEST, Instant, iso

INSTANT = TypeAdapter(Instant)


@pytest.mark.parametrize(
    "given_as",
    [
        "2026-11-29T10:00:00Z",
        "2026-11-29T10:00:00+00:00",
        "2026-11-29T11:00:00+01:00",
        "2026-11-29T05:00:00-05:00",
        1_795_946_400,
        1_795_946_400.0,
        "1795946400",
    ],
)
def test_iso_with_an_offset_and_unix_seconds_mean_the_same_instant(given_as: object) -> None:
    assert INSTANT.validate_python(given_as) == 1_795_946_400.0


@pytest.mark.parametrize(
    ("given_as", "said"),
    [
        ("2026-11-29T10:00:00", "needs Z or a UTC offset"),
        ("yesterday", "expected ISO 8601"),
        ("0001-01-01T00:00:00+05:00", "greater than or equal"),
        ("2200-01-01T00:00:00Z", "less than or equal"),
        (1_795_946_400_000, "less than or equal"),  # milliseconds for seconds
        (float("nan"), "greater than or equal"),
        (True, "not true/false"),
    ],
)
def test_an_instant_that_is_not_one_is_refused_with_what_was_expected(
    given_as: object, said: str
) -> None:
    with pytest.raises(ValidationError, match=said):
        INSTANT.validate_python(given_as)


@given(st.floats(min_value=EARLIEST, max_value=LATEST))
def test_what_the_api_writes_it_reads_back_to_the_microsecond(ts: float) -> None:
    assert INSTANT.validate_python(iso(ts)) == pytest.approx(ts, abs=1e-6)
