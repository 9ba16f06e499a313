"""Judging one request for the SLOs of its service: good, bad, or not this SLO's to count;
shared by every input (JSON outcomes on either path, OpenTelemetry spans)."""

from __future__ import annotations

from typing import Protocol

from streams.config.model import Config
from streams.core.slo import SLO
from streams.ingest.aggregate import Aggregate


class Request(Protocol):
    """What a request outcome says, whatever shape it came in."""

    @property
    def ts(self) -> float: ...  # event time, unix s
    @property
    def status_code(self) -> int: ...
    @property
    def latency_ms(self) -> float | None: ...
    @property
    def ok(self) -> bool | None: ...
    @property
    def route(self) -> str | None: ...


def judge(slo: SLO, ev: Request) -> bool | None:
    """Whether one request was good for ``slo``; None when the SLO does not count it (not one
    of its operations) or can't tell (a latency SLO and no latency_ms)."""
    return verdict(slo, ev.route, ev.status_code, ev.ok, within(slo, ev.latency_ms))


def judge_request(
    slo: SLO, status_code: int, ok: bool | None, latency_ms: float | None
) -> bool | None:
    """Whether a request with this status (or explicit ``ok``) and latency (ms) was good for
    ``slo``; None for a latency SLO when the latency is unknown."""
    return verdict(slo, None, status_code, ok, within(slo, latency_ms), routed=False)


def within(slo: SLO, latency_ms: float | None) -> bool | None:
    """Whether a latency is within the SLO's threshold; None when either is unknown."""
    if latency_ms is None or slo.latency_threshold_ms is None:
        return None
    return latency_ms <= slo.latency_threshold_ms


def verdict(
    slo: SLO,
    route: str | None,
    status_code: int,
    ok: bool | None,
    fast_enough: bool | None,
    routed: bool = True,
) -> bool | None:
    """The one rule every input is judged by, from what decides it: the operation (``route``,
    unless the caller matched operations itself: ``routed`` False), the status or explicit
    ``ok``, and for a latency SLO whether the latency was within its threshold (None:
    unknown). Apart from the latency itself so that equal requests can be judged once."""
    if routed and slo.operations is not None and not (route is not None and slo.covers((route,))):
        return None
    good = ok if ok is not None else slo.is_success(status_code)
    if slo.sli_type != "latency":
        return good
    if fast_enough is None:
        return None
    return good and fast_enough


def count_request(
    ev: Request, slos: tuple[SLO, ...], cfg: Config, into: Aggregate, offset: int
) -> None:
    """Fold one accepted request into ``into`` for each SLO (and journey) it counts for; an
    SLO that does not count it is noted in ``into.skipped``."""
    bucket_s = cfg.settings.bucket_seconds
    for slo in slos:
        good = judge(slo, ev)
        if good is None:
            into.skipped[slo.id] = into.skipped.get(slo.id, 0) + 1
            continue
        into.add(slo.id, ev.ts, bucket_s, 0 if good else 1, 1, offset)
        for journey, w in cfg.journeys_of(slo.id):
            into.add(journey, ev.ts, bucket_s, 0 if good else w, w, offset)


def counted_for(slo_name: str | None, slos: tuple[SLO, ...]) -> tuple[SLO, ...] | str:
    """The SLOs pre-counted outcomes count for (``slo_name`` picks one of the service's), or
    the reason they count for none: ``unknown_slo`` or ``ambiguous_slo``."""
    if slo_name is not None:
        chosen = tuple(s for s in slos if s.id == slo_name)
        return chosen or "unknown_slo"
    # Pre-counted good/total are the producer's own judgment of one SLI: with several SLOs on
    # the service we cannot know which, and guessing would move the wrong budget.
    return slos if len(slos) == 1 else "ambiguous_slo"


def count_counted(
    slos: tuple[SLO, ...],
    good: int,
    total: int,
    ts: float,
    cfg: Config,
    into: Aggregate,
    offset: int,
) -> None:
    """Fold pre-counted outcomes into ``into`` for each of ``slos`` (from counted_for) and
    their journeys."""
    bucket_s, bad = cfg.settings.bucket_seconds, total - good
    for slo in slos:
        into.add(slo.id, ts, bucket_s, bad, total, offset)
        for journey, w in cfg.journeys_of(slo.id):
            into.add(journey, ts, bucket_s, bad * w, total * w, offset)
