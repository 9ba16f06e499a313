"""The low-traffic guard on a replay: lone failures of a 10-requests-an-hour service stop paging,
a real outage still pages."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from streams.config.loading import load_config
from streams.core.slo_math import Counts, evaluate_slo, wilson_lower
from streams.local.traffic import EXAMPLE_START, low_traffic_history
from streams.replay.engine import replay_incidents

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "low-traffic.jsonl"
CONFIG = ROOT / "examples" / "low-traffic.yaml"
OUTAGE_AT = EXAMPLE_START + 12 * 86400 + 14 * 3600


def test_the_shipped_example_is_exactly_what_its_generator_makes() -> None:
    assert EXAMPLE.read_bytes() == b"".join(line + b"\n" for line in low_traffic_history())


def incidents(min_bad_events: int, confidence: float | None = None) -> list[tuple[float, int]]:
    """(onset, pages fired) of every incident of the replay with this guard."""
    cfg = load_config([CONFIG], env={})
    (slo,) = cfg.slos
    guarded = replace(slo, min_bad_events=min_bad_events, burn_confidence=confidence)
    cfg = replace(cfg, slos=(guarded,))
    log = replay_incidents(EXAMPLE, cfg, 60, now=2e9)
    return [(i.onset, i.fired["page"]) for i in log.incidents]


def test_without_the_guard_each_lone_failure_pages() -> None:
    found = incidents(0)
    assert len(found) == 5  # four lone failed requests and the outage
    assert all(pages >= 1 for _, pages in found)


def test_with_the_shipped_guard_only_the_real_outage_pages() -> None:
    cfg = load_config([CONFIG], env={})
    assert cfg.slos[0].min_bad_events == 3
    (found,) = incidents(3)
    onset, pages = found
    assert OUTAGE_AT <= onset < OUTAGE_AT + 42 * 60 and pages >= 1


def test_a_confidence_bound_alone_does_not_hide_one_failure_in_ten_requests() -> None:
    # Wilson at 95 %: 1 of 10 is still >= 2.3 % for sure, a burn of 23 on a 99.9 % SLO.
    assert wilson_lower(1, 10, 1.6448536269514722) == pytest.approx(0.0227, abs=1e-4)
    lone = [onset for onset, pages in incidents(0, confidence=0.95) if onset < OUTAGE_AT and pages]
    assert len(lone) == 4


def test_the_guard_needs_the_bad_events_in_the_long_window() -> None:
    cfg = load_config([CONFIG], env={})
    slo = cfg.slos[0]
    page = slo.alerts[0]
    counts = {page.long_window_s: Counts(2, 10), page.short_window_s: Counts(1, 1)}

    def firing(c: dict[int, Counts], s: object) -> bool:
        st = evaluate_slo(s, 0.0, lambda w: c.get(w, Counts()), Counts(), 86400, {})  # type: ignore[arg-type]
        return st.rules[0].condition

    assert not firing(counts, slo)  # 2 bad < 3
    assert firing({**counts, page.long_window_s: Counts(3, 10)}, slo)
    assert firing(counts, replace(slo, min_bad_events=0))
    # A bound at 99 % on 3 of 10 (>= 6.8 %) still clears 14.4x of a 0.1 % budget.
    assert firing({**counts, page.long_window_s: Counts(3, 10)}, replace(slo, burn_confidence=0.99))
    # ... but not 3 of 200 (1.5 %, burn 15): its bound (~0.4 %) is under 14.4x.
    wide = {page.long_window_s: Counts(3, 200), page.short_window_s: Counts(1, 1)}
    assert firing(wide, slo)
    assert not firing(wide, replace(slo, burn_confidence=0.99))
