"""Times at the API edge: anything outside 1970..2100 is refused with the field named, so a
stored silence or exclusion can always be listed, shown and deleted."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from streams.core.exclusions import Exclusion, ExclusionRequest
from streams.core.silences import Silence, SilenceRequest
from streams.http.gate import OverrideRequest

NOW = 1_800_000_000.0
OUT_OF_RANGE = [1e13, -1.0, 4_102_444_801.0, 1e308, math.inf, math.nan]
MATCH = {"service": "checkout-api"}


@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize(
    ("model", "body", "field"),
    [
        (SilenceRequest, {"matchers": MATCH, "comment": "c", "ends_at": NOW + 60}, "starts_at"),
        (SilenceRequest, {"matchers": MATCH, "comment": "c"}, "ends_at"),
        (ExclusionRequest, {"matchers": MATCH, "comment": "c", "ends_at": NOW}, "starts_at"),
        (ExclusionRequest, {"matchers": MATCH, "comment": "c", "starts_at": NOW}, "ends_at"),
        (OverrideRequest, {"reason": "r"}, "expires_at"),
    ],
)
def test_a_time_outside_1970_to_2100_is_refused_naming_its_field(
    model: type[BaseModel], body: dict[str, Any], field: str, value: float
) -> None:
    with pytest.raises(ValidationError) as e:
        model.model_validate({**body, field: value})
    assert e.value.errors()[0]["loc"][0] == field


STORED = {
    "id": "x",
    "matchers": MATCH,
    "starts_at": NOW,
    "ends_at": NOW + 60,
    "created_by": "a",
    "comment": "c",
    "created_at": NOW,
}


@pytest.mark.parametrize("model", [Silence, Exclusion])
def test_a_stored_record_with_an_absurd_time_is_unreadable_so_followers_skip_it(
    model: type[BaseModel],
) -> None:
    stored = {**STORED, "kind": "maintenance"} if model is Exclusion else STORED
    with pytest.raises(ValidationError):
        model.model_validate({**stored, "starts_at": 1e13})
    model.model_validate(stored)


def test_the_year_2100_edge_is_accepted() -> None:
    s = SilenceRequest.model_validate(
        {"matchers": MATCH, "comment": "c", "starts_at": NOW, "ends_at": NOW + 60}
    ).silence("a", NOW)
    assert s.starts_at == NOW
    SilenceRequest.model_validate({"matchers": MATCH, "comment": "c", "ends_at": 4_102_444_800.0})
