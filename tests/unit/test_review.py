"""The SLO review report: on the shipped 14-day example it names the incidents the replay
finds; over a synthetic year the review rule flags an over-achieving SLO as lenient and a
chronically missing one as too strict, each with its numbers; the rule's parts alone."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from streams.config.loading import load_config
from streams.core.exclusions import Exclusion
from streams.core.review import (
    Period,
    ReviewRule,
    episodes,
    periods_of,
    recommend,
    time_in_decisions,
)
from streams.core.timestamps import iso, minute_utc
from streams.export.report import html_report, markdown
from streams.replay.engine import replay_incidents
from streams.replay.review import replay_review
from tests.conftest import sloburn
from tests.unit.test_slo_math import slo_999

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "outages.jsonl"
CONFIG = ROOT / "configs" / "slo_config.yaml"
NOW = 2e9
YEAR_START = 1_767_225_600  # 2026-01-01 UTC
STEP = 6 * 3600

YEAR_CONFIG = """
services:
  steady-api: {sli_type: success_rate, target: 0.99, window_days: 30}
  flaky-api: {sli_type: success_rate, target: 0.999, window_days: 30}
"""


def test_the_report_on_the_shipped_example_names_the_incidents_the_replay_finds(
    tmp_path: Path,
) -> None:
    cfg = load_config([CONFIG], env={})
    reviews = replay_review(EXAMPLE, cfg, 300, NOW)
    found = replay_incidents(EXAMPLE, cfg, 300, NOW).incidents
    assert len(found) == 3
    for r in reviews:
        want = [(i.detected, i.resolved, i.first_rule) for i in found if i.slo == r.slo.id]
        assert [(i.start, i.end, i.first_rule) for i in r.incidents] == want
        assert r.pages + r.tickets == sum(sum(i.fired.values()) for i in found if i.slo == r.slo.id)
    md = markdown(reviews, ReviewRule())
    assert "| 2026-11-09 10:05 UTC | 2026-11-09 16:10 UTC | page_1h_5m | 2 | 2 |" in md
    assert "| 2026-11-13 10:30 UTC | 2026-11-13 17:15 UTC | slow_burn | 1 | 1 |" in md
    assert "14 of the 365 days the rule needs" in md  # two weeks judge no target
    checkout = reviews[0]
    # the gate decides from the first evaluation on: one step after the range's start
    assert checkout.decision_s["block"] > 0
    assert sum(checkout.decision_s.values()) == checkout.end - checkout.start - 300
    # The CLI writes both files from the same reviews.
    out = tmp_path / "report"
    proc = sloburn("report", str(EXAMPLE), "--config", str(CONFIG), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert (out / "report.md").read_text() == md
    assert (out / "report.html").read_text() == html_report(reviews, ReviewRule())


def a_year(path: Path) -> None:
    """steady-api: 1 error in 10,000 against a 1 % budget; flaky-api: 0.4 % errors in half
    the months (a 0.1 % budget), 0.02 % in the others."""
    rng = random.Random(7)
    lines = []
    for k in range(366 * 4):
        ts = YEAR_START + k * STEP
        month = k * STEP // (30 * 86400)
        for service, ratio in (("steady-api", 1e-4), ("flaky-api", 4e-3 if month % 2 else 2e-4)):
            total = 20_000 + rng.randint(0, 1000)
            bad = round(total * ratio)
            lines.append({"service": service, "ts": ts, "good": total - bad, "total": total})
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))


@pytest.fixture(scope="module")
def year_reviews(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    d = tmp_path_factory.mktemp("year")
    (d / "c.yaml").write_text(YEAR_CONFIG)
    a_year(d / "year.jsonl")
    cfg = load_config([d / "c.yaml"], env={})
    return {r.slo.id: r for r in replay_review(d / "year.jsonl", cfg, STEP, NOW)}


def test_a_year_of_over_achieving_is_flagged_lenient_and_chronic_misses_too_strict(
    year_reviews: dict,
) -> None:
    steady, flaky = year_reviews["steady-api:success_rate"], year_reviews["flaky-api:success_rate"]
    assert len(steady.periods) == 13 and steady.end - steady.start >= 365 * 86400
    flag, why = steady.recommendation(ReviewRule())
    assert flag == "lenient"
    assert why.startswith("0 of 13 periods over budget; at most 1.0% of a period's budget spent")
    assert "too lenient or the service over-engineered" in why
    flag, why = flaky.recommendation(ReviewRule())
    assert flag == "chronic" and "too strict or reliability work is due" in why
    missed = sum(p.spent(flaky.slo) > 1 for p in flaky.periods)
    assert 5 <= missed <= 7 and why.startswith(f"{missed} of 13 periods over budget")
    page = html_report([steady, flaky], ReviewRule())
    assert "data-flag='lenient'" in page and "data-flag='chronic'" in page
    # Configurable: a longer span than the data judges nothing.
    assert steady.recommendation(ReviewRule(span_s=400 * 86400))[0] is None


def test_counts_per_period_add_up_to_the_file(year_reviews: dict, tmp_path: Path) -> None:
    a_year(tmp_path / "y.jsonl")
    sent: dict[str, list[int]] = {}
    for line in (tmp_path / "y.jsonl").read_bytes().splitlines():
        ev = orjson.loads(line)
        s = sent.setdefault(ev["service"], [0, 0])
        s[0] += ev["total"] - ev["good"]
        s[1] += ev["total"]
    for r in year_reviews.values():
        whole = r.totals()
        # the first step's events fall before the first evaluation's period start
        assert sent[r.slo.service][1] - whole.total <= 21_000
        assert 0 <= sent[r.slo.service][0] - whole.bad <= 100


SLO_ = slo_999()


def test_episodes_open_on_the_first_firing_and_close_when_every_rule_resolved() -> None:
    alerts = [
        (10, "page_1h_5m", "page", "firing"),
        (20, "ticket_1d_2h", "ticket", "firing"),
        (30, "page_1h_5m", "page", "resolved"),
        (40, "ticket_1d_2h", "ticket", "resolved"),
        (50, "ticket_1d_2h", "ticket", "resolved"),  # a repeat resolve changes nothing
        (60, "page_6h_30m", "page", "firing"),
    ]
    got = [(i.start, i.end, i.first_rule, i.pages, i.tickets) for i in episodes(alerts)]
    assert got == [(10, 40, "page_1h_5m", 1, 1), (60, None, "page_6h_30m", 1, 0)]


def test_time_in_decisions_counts_only_the_range_and_known_time() -> None:
    changes = [(50.0, "block"), (120.0, "allow"), (400.0, "freeze")]
    assert time_in_decisions(changes, 100, 300) == {"block": 20, "allow": 180}
    assert time_in_decisions(changes, 0, 100) == {"block": 50}
    assert time_in_decisions(changes, 0, 100, before="allow") == {"allow": 50, "block": 50}


def test_calendar_periods_follow_the_calendar() -> None:
    month = replace(SLO_, window_days=None, calendar="month")
    starts = [a for a, _ in periods_of(month, YEAR_START + 86400 * 10, YEAR_START + 86400 * 70)]
    assert [s - YEAR_START for s in starts] == [10 * 86400, 31 * 86400, 59 * 86400]


def test_no_traffic_and_short_history_judge_nothing() -> None:
    rule = ReviewRule(span_s=86400)
    assert recommend(SLO_, [Period(0, 1, 0, 0)], 86400, rule) == (None, "no traffic in the range")
    flag, why = recommend(SLO_, [Period(0, 1, 0, 1000)], 3600, rule)
    assert flag is None and "0 of the 1 days" in why


def test_an_excluded_outage_leaves_the_periods_and_is_listed() -> None:
    cfg = load_config([CONFIG], env={})
    base = replay_review(EXAMPLE, cfg, 300, NOW)[0]
    (first, _) = base.incidents
    maintenance = Exclusion(
        id="x1",
        kind="maintenance",
        matchers={"slo": base.slo.id},
        starts_at=first.start - 1800,
        ends_at=first.start + 1800,
        created_by="ops",
        comment="failover drill",
        created_at=NOW,
    )
    after = replay_review(EXAMPLE, cfg, 300, NOW, [maintenance])[0]
    assert after.totals().bad < base.totals().bad and after.totals().total < base.totals().total
    assert len(after.incidents) == 1
    assert after.exclusions == [
        f'maintenance "failover drill": once from {minute_utc(first.start - 1800)}, '
        "1.0 h in all, by ops"
    ]


def test_an_exclusion_reads_the_same_from_the_worker_api_as_from_a_replay() -> None:
    from streams.cli.report import review_of

    slo = slo_999()
    t0 = 1_796_000_400.0  # 2026-11-30 01:00 UTC
    rows = [  # /history lists every occurrence; the report, every exclusion once
        {
            "id": "x1",
            "kind": "maintenance",
            "comment": "nightly",
            "from": iso(a),
            "to": iso(a + 1800),
            "by": "ops",
            "every": "FREQ=DAILY, Europe/Berlin",
        }
        for a in (t0, t0 + 86400)
    ]
    override = {"at": iso(t0), "kind": "override", "who": "ana", "why": "hotfix"}
    h = {"from": iso(t0 - 3600), "to": iso(t0 + 2 * 86400), "points": [], "alerts": []}
    h |= {"gate": [override], "exclusions": rows}
    review = review_of(slo, h)
    assert review.exclusions == [
        'maintenance "nightly" (FREQ=DAILY, Europe/Berlin): 2 times from 2026-11-30 01:00 UTC, '
        "1.0 h in all, by ops"
    ]
    assert review.overrides == ["2026-11-30 01:00 UTC override by ana: hotfix"]
