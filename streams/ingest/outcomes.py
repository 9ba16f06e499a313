"""Ingest logic, pure: decode a Kafka message, validate each outcome, classify it per SLO.

A message holds one outcome object or a JSON array of them. Each outcome either becomes
(SLO, bucket, bad, total) contributions or a Rejection with a stable reason code (a bounded set,
so it is safe as a metric label) and a human error. Nothing is dropped silently.
"""

from __future__ import annotations

import math
from collections import ChainMap
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from streams.config.model import Config
from streams.core.brief import brief
from streams.core.slo import SLO
from streams.ingest.aggregate import Aggregate
from streams.ingest.dead_letters import Rejection, internal_error
from streams.ingest.judging import count_counted, count_request, counted_for
from streams.ingest.plain_batch import count_plain
from streams.ingest.schema import AggregateOutcome, RawOutcome


def _reason_for(err: ValidationError) -> tuple[str, str]:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(event)"
    kind = first["type"]
    msg = str(first["msg"]).removeprefix("Value error, ").replace("Input should be", "expected")
    if kind == "missing":
        return "missing_field", f"{loc}: required field is missing"
    if msg == "good_exceeds_total":
        return "good_exceeds_total", "good: must not exceed total"
    if kind in ("greater_than_equal", "greater_than") and loc in ("good", "total"):
        return (
            "negative_count",
            f"{loc}: must be a non-negative integer, got {brief(first.get('input'))}",
        )
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return "invalid_type", f"{loc}: {msg}, got {brief(first.get('input'))}"
    return "invalid_value", f"{loc}: {msg}, got {brief(first.get('input'))}"


_NUMBER = (int, float)


@dataclass(slots=True)
class PlainOutcome:
    """A raw outcome that passed the plain-shape check (cheaper to build than the model)."""

    service: str
    ts: float
    status_code: int
    latency_ms: float | None
    ok: bool | None
    route: str | None = None


def plain_outcome(obj: dict[str, Any]) -> PlainOutcome | None:
    """The outcome, when it is valid in the plain shape nearly every producer sends (numbers
    for ts and latency, no ISO time); None sends it through full validation, which gives the
    precise reason when something is wrong. Skipping pydantic here is most of ingest's
    per-outcome cost; a property test holds the two paths to the same answers."""
    get = obj.get
    service: Any = get("service")
    ts: Any = get("ts")
    code: Any = get("status_code")
    latency: Any = get("latency_ms")
    ok: Any = get("ok")
    route: Any = get("route")
    if not (
        type(service) is str
        and 0 < len(service) <= 200
        and type(ts) in _NUMBER
        and 0 < ts < math.inf
        and type(code) is int
        and 100 <= code <= 599
        and (latency is None or (type(latency) in _NUMBER and 0 <= latency < math.inf))
        and (ok is None or type(ok) is bool)
        and (route is None or (type(route) is str and len(route) <= 500))
    ):
        return None
    lat = None if latency is None else float(latency)
    return PlainOutcome(service, float(ts), code, lat, ok, route)


def _reject(obj: Any, raw: bytes | None, reason: str, error: str, index: int | None) -> Rejection:
    # An array element keeps its decoded value, encoded only if its DLQ record lists it.
    return Rejection(reason, error, raw or b"", index, None if raw is not None else obj)


def _timing(
    ts: float, service: str, cfg: Config, now: float, mark: float | None
) -> tuple[str, str] | None:
    """(reason, error) when the event time is too far ahead of now or behind the service's
    newest event (``mark``) by more than the allowed lateness."""
    ahead = cfg.settings.max_future_seconds
    if ts > now + ahead:
        return "future_timestamp", f"ts: {ts:.3f} is more than {ahead}s ahead of now"
    lateness = cfg.settings.allowed_lateness_seconds
    if mark is not None and ts < mark - lateness:
        return (
            "late",
            f"ts: {ts:.3f} is {mark - ts:.0f}s behind the newest event of {service!r}; "
            f"allowed lateness is {lateness}s",
        )
    return None


def _count(
    ev: RawOutcome | PlainOutcome | AggregateOutcome,
    slos: tuple[SLO, ...],
    cfg: Config,
    into: Aggregate,
    offset: int,
) -> tuple[str, str] | None:
    """Fold one valid outcome into ``into`` for each SLO (and journey) it counts for; (reason,
    error) when pre-counted outcomes do not name one SLO of the service."""
    if isinstance(ev, AggregateOutcome):
        chosen = counted_for(ev.slo, slos)
        if isinstance(chosen, str):
            expected = [s.id for s in slos]
            return (
                chosen,
                f"slo: expected one of {expected} for pre-counted outcomes, got {ev.slo!r}",
            )
        count_counted(chosen, ev.good, ev.total, ev.ts, cfg, into, offset)
        return None
    count_request(ev, slos, cfg, into, offset)
    return None


def classify(
    obj: Any,
    raw: bytes | None,
    cfg: Config,
    now: float,
    into: Aggregate,
    watermarks: MutableMapping[str, float],
    offset: int = 0,
    index: int | None = None,
) -> Rejection | None:
    """Validate one outcome object and fold it into ``into``; a Rejection if it cannot count.

    ``now`` (unix seconds) bounds how far in the future an event time may lie. ``watermarks``
    holds the newest accepted event time per service; an event older than that minus the
    allowed lateness is rejected as ``late`` (its buckets may already be compacted or expired),
    a later one updates its own bucket. ``offset`` is the source message's (Kafka offset).
    ``raw`` is the outcome's own bytes for the DLQ; None for an element of an array message,
    at position ``index``.
    """

    if not isinstance(obj, dict):
        return _reject(obj, raw, "not_an_object", "expected a JSON object per outcome", index)
    is_aggregate = "good" in obj or "total" in obj
    ev: RawOutcome | PlainOutcome | AggregateOutcome | None = (
        None if is_aggregate else plain_outcome(obj)
    )
    if ev is None:
        try:
            ev = (
                AggregateOutcome.model_validate(obj)
                if is_aggregate
                else RawOutcome.model_validate(obj)
            )
        except ValidationError as e:
            reason, error = _reason_for(e)
            return _reject(obj, raw, reason, error, index)
    slos = cfg.slos_of(ev.service)
    if not slos:
        return _reject(
            obj,
            raw,
            "unknown_service",
            f"service: {ev.service!r} has no SLO in the loaded config",
            index,
        )
    mark = watermarks.get(ev.service)
    problem = _timing(ev.ts, ev.service, cfg, now, mark) or _count(ev, slos, cfg, into, offset)
    if problem is not None:
        return _reject(obj, raw, *problem, index)
    into.accepted[ev.service] = into.accepted.get(ev.service, 0) + 1
    if mark is None or ev.ts > mark:
        watermarks[ev.service] = ev.ts
    return None


# The items of one Kafka message, each with its own bytes for the DLQ (None for an element of
# an array: encoded only if it is rejected), or why the message cannot be read. An item may
# itself be a Rejection: a part the reader could not turn into an outcome (an OTLP span).
Items = list[tuple[Any, bytes | None]]
Reader = Callable[[bytes, Config, float], "Items | Rejection"]


def too_large(raw: bytes, max_bytes: int) -> Rejection | None:
    """Why a message is not read at all, if it is over the size limit (bytes)."""
    if len(raw) <= max_bytes:
        return None
    return Rejection("too_large", f"(message): {len(raw)} bytes, expected at most {max_bytes}", raw)


def split_message(raw: bytes, max_bytes: int = 2**20) -> Items | Rejection:
    """The outcomes of one message of sloburn's own JSON (an object or an array of them)."""
    big = too_large(raw, max_bytes)
    if big is not None:
        return big
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        return Rejection("invalid_json", f"(message): not valid JSON: {e}", raw)
    if isinstance(doc, list):
        return [(obj, None) for obj in doc]
    return [(doc, raw)]


def read_outcomes(raw: bytes, cfg: Config, now: float) -> Items | Rejection:
    """The Reader of ``sloburn.outcomes``."""
    return split_message(raw, cfg.settings.max_message_bytes)


def ingest_message(
    raw: bytes,
    cfg: Config,
    now: float,
    into: Aggregate,
    watermarks: dict[str, float],
    offset: int = 0,
    judged: Callable[[bytes], None] | None = None,
    read: Reader = read_outcomes,
) -> list[Rejection]:
    """Decode one Kafka message (by default an outcome or a JSON array of them; ``read``
    decodes another format into outcomes) at ``offset`` in its partition into ``into``: all of
    its accepted outcomes, or none of them. ``judged`` runs
    after the last judgment, inside the containment (the worker's fault-injection point).

    Contained: an unexpected error while judging the message (a bug, or input no test
    foresaw) leaves ``into`` and ``watermarks`` as they were and rejects the whole message as
    ``internal_error`` with the exception's class; it never costs another message.
    """
    try:
        plain = count_plain(raw, cfg, now, watermarks, offset) if read is read_outcomes else None
        if plain is not None:  # the common case, at C speed (streams.ingest.plain_batch)
            if judged is not None:
                judged(raw)
            into.merge(plain[0])
            watermarks.update(plain[1])
            return []
    except Exception as exc:  # contained by design: see the docstring
        return [Rejection("internal_error", internal_error(exc), raw)]
    mine = Aggregate()
    marks: ChainMap[str, float] = ChainMap({}, watermarks)  # writes stay in this message
    try:
        items = read(raw, cfg, now)
        if isinstance(items, Rejection):
            return [items]
        out = []
        for i, (obj, own) in enumerate(items):
            if isinstance(obj, Rejection):
                out.append(obj)
                continue
            rej = classify(obj, own, cfg, now, mine, marks, offset, i if own is None else None)
            if rej is not None:
                out.append(rej)
        if judged is not None:
            judged(raw)
    except Exception as exc:  # contained by design: see the docstring
        return [Rejection("internal_error", internal_error(exc), raw)]
    into.merge(mine)
    watermarks.update(marks.maps[0])
    return out
