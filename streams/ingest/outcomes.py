"""Ingest logic, pure: decode a Kafka message, validate each outcome, classify it per SLO.

A message holds one outcome object or a JSON array of them. Each outcome either becomes
(SLO, bucket, bad, total) contributions or a Rejection with a stable reason code (a bounded set,
so it is safe as a metric label) and a human error. Nothing is dropped silently.
"""

from __future__ import annotations

import math
from collections import ChainMap
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from streams.config.model import Config
from streams.core.brief import brief
from streams.core.slo import SLO
from streams.ingest.schema import AggregateOutcome, RawOutcome
from streams.state.sli_record import SliRecord

REASONS = (
    "invalid_json",
    "not_an_object",
    "missing_field",
    "invalid_type",
    "invalid_value",
    "negative_count",
    "good_exceeds_total",
    "unknown_service",
    "unknown_slo",
    "ambiguous_slo",
    "future_timestamp",
    "late",
    "too_large",
    "internal_error",
)

DLQ_RAW_MAX = 64 * 1024  # bytes of the original message kept in a DLQ record
DLQ_LISTED_MAX = 20  # rejected elements of one array message listed one by one
DLQ_ELEMENT_MAX = 4096  # bytes of each listed element
# Contributions per SLI record: about 30 bytes each, so a record stays far below the
# producer's 1 MiB request limit (one message's contributions are never split, see records).
RECORD_CONTRIBUTIONS_MAX = 10_000


@dataclass(frozen=True)
class Rejection:
    """An outcome that cannot count; goes to the DLQ with its reason and original bytes.

    ``index`` is the outcome's position when the message is a JSON array (None: the message is
    the outcome, and ``raw`` its bytes); ``element`` is then the decoded element, encoded for
    the DLQ only if it is listed (most rejections of a huge array are only counted).
    """

    reason: str  # one of REASONS
    error: str  # what was expected, for the human reading the DLQ
    raw: bytes = b""
    index: int | None = None
    element: Any = None

    def element_text(self) -> str | None:
        """The element as JSON text (at most DLQ_ELEMENT_MAX bytes), or None when it cannot be
        written back (nested deeper than the encoder allows; the message's ``raw`` has it)."""
        try:
            own = self.raw or orjson.dumps(self.element)
        except (TypeError, orjson.JSONEncodeError):
            return None
        return _text(own[:DLQ_ELEMENT_MAX])


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "backslashreplace")


def dlq_record(
    message: bytes, rejections: Sequence[Rejection], source: Mapping[str, object] | None = None
) -> bytes:
    """The one DLQ record of one Kafka message, however many of its outcomes were rejected:
    the first reason and error, the original bytes as text (at most DLQ_RAW_MAX), and for an
    array the count per reason with the first DLQ_LISTED_MAX rejected elements by index.

    One record per message bounds what a hostile producer can make us write: a 200 KB array of
    100,000 bad elements is one record, not 100,000. ``source`` (topic, partition, offset) is
    added for records that did not come from the outcomes topic or failed unexpectedly.
    """
    first = rejections[0]
    record: dict[str, object] = {
        "reason": first.reason,
        "error": first.error,
        "raw": _text(message[:DLQ_RAW_MAX]),
    }
    if len(message) > DLQ_RAW_MAX:
        record["raw_truncated_from_bytes"] = len(message)
    record.update(source or {})
    if first.index is None:
        return orjson.dumps(record)
    reasons: dict[str, int] = {}
    for r in rejections:
        reasons[r.reason] = reasons.get(r.reason, 0) + 1
    listed = []
    for r in rejections[:DLQ_LISTED_MAX]:
        entry: dict[str, object] = {"index": r.index, "reason": r.reason, "error": r.error}
        text = r.element_text()
        if text is not None:
            entry["outcome"] = text
        listed.append(entry)
    record.update(rejected=len(rejections), reasons=reasons, rejections=listed)
    if len(rejections) > DLQ_LISTED_MAX:
        record["rejections_not_listed"] = len(rejections) - DLQ_LISTED_MAX
    return orjson.dumps(record)


def internal_error(exc: BaseException) -> str:
    """The error text of an ``internal_error``: the exception's class and message, short."""
    return f"{type(exc).__name__}: {exc}"[:500]


@dataclass
class Aggregate:
    """Counts of many outcomes per SLO, per source message and bucket: what the window tables
    are updated with. Kept apart per source message (its offset) so that the tables can skip
    exactly the messages they already hold when ingest re-runs a batch after a crash."""

    # slo -> (source offset, bucket start) -> [bad, total]
    counts: dict[str, dict[tuple[int, int], list[int]]] = field(default_factory=dict)
    newest: dict[str, float] = field(default_factory=dict)  # slo -> newest event time
    accepted: dict[str, int] = field(default_factory=dict)  # service -> accepted outcomes
    skipped: dict[str, int] = field(default_factory=dict)  # slo -> outcomes it could not judge

    def add(self, slo_id: str, ts: float, bucket_s: int, bad: int, total: int, offset: int) -> None:
        """Fold one contribution of source message ``offset`` in (bucket by event time)."""
        key = (offset, int(ts // bucket_s) * bucket_s)  # floor_to, inlined: hot path
        cell = self.counts.setdefault(slo_id, {}).setdefault(key, [0, 0])
        cell[0] += bad
        cell[1] += total
        if ts > self.newest.get(slo_id, 0.0):
            self.newest[slo_id] = ts

    def merge(self, other: Aggregate) -> None:
        """Fold ``other`` (one message's counts) in."""
        for slo_id, cells in other.counts.items():
            mine = self.counts.setdefault(slo_id, {})
            for key, (bad, total) in cells.items():
                cell = mine.get(key)
                if cell is None:
                    mine[key] = [bad, total]
                else:
                    cell[0] += bad
                    cell[1] += total
        for slo_id, ts in other.newest.items():
            if ts > self.newest.get(slo_id, 0.0):
                self.newest[slo_id] = ts
        for mine_counts, theirs in ((self.accepted, other.accepted), (self.skipped, other.skipped)):
            for k, n in theirs.items():
                mine_counts[k] = mine_counts.get(k, 0) + n

    def contributions(self, slo_id: str) -> list[tuple[int, int, int, int]]:
        """(source offset, bucket start, bad, total) for one SLO, in offset order."""
        return [(o, b, c[0], c[1]) for (o, b), c in sorted(self.counts[slo_id].items())]

    def records(self, src_partition: int) -> list[SliRecord]:
        """The SLI records of each SLO, for outcomes read from ``src_partition``: one per SLO,
        or several in offset order when its contributions pass RECORD_CONTRIBUTIONS_MAX (a
        batch of a week of history made a 1.3 MB record, over the producer's 1 MiB limit).

        A cut falls only between two source offsets: the window table skips an offset its
        block already holds, so one message's contributions split over two records would
        lose the second part."""
        out = []
        for slo_id in self.counts:
            newest, last = self.newest[slo_id], -1
            chunk: list[tuple[int, int, int, int]] = []
            for c in self.contributions(slo_id):
                if len(chunk) >= RECORD_CONTRIBUTIONS_MAX and c[0] != last:
                    out.append(SliRecord(slo_id, chunk, newest, src_partition))
                    chunk = []
                chunk.append(c)
                last = c[0]
            out.append(SliRecord(slo_id, chunk, newest, src_partition))
        return out


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


def _slos_for_aggregate(ev: AggregateOutcome, slos: tuple[SLO, ...]) -> tuple[SLO, ...] | str:
    if ev.slo is not None:
        chosen = tuple(s for s in slos if s.id == ev.slo)
        return chosen or "unknown_slo"
    # Pre-counted good/total are the producer's own judgment of one SLI: with several SLOs on
    # the service we cannot know which, and guessing would move the wrong budget.
    return slos if len(slos) == 1 else "ambiguous_slo"


_NUMBER = (int, float)


@dataclass(slots=True)
class PlainOutcome:
    """A raw outcome that passed the plain-shape check (cheaper to build than the model)."""

    service: str
    ts: float
    status_code: int
    latency_ms: float | None
    ok: bool | None


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
    return PlainOutcome(service, float(ts), code, None if latency is None else float(latency), ok)


def judge(slo: SLO, ev: RawOutcome | PlainOutcome) -> bool | None:
    """Whether one request was good for ``slo``; None when the SLO can't tell (a latency SLO
    and no latency_ms)."""
    good = ev.ok if ev.ok is not None else slo.is_success(ev.status_code)
    if slo.sli_type != "latency":
        return good
    if ev.latency_ms is None:
        return None
    assert slo.latency_threshold_ms is not None
    return good and ev.latency_ms <= slo.latency_threshold_ms


def _reject(obj: Any, raw: bytes | None, reason: str, error: str, index: int | None) -> Rejection:
    # An array element keeps its decoded value, encoded only if its DLQ record lists it.
    return Rejection(reason, error, raw or b"", index, None if raw is not None else obj)


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
    if ev.ts > now + cfg.settings.max_future_seconds:
        return _reject(
            obj,
            raw,
            "future_timestamp",
            f"ts: {ev.ts:.3f} is more than {cfg.settings.max_future_seconds}s ahead of now",
            index,
        )
    lateness = cfg.settings.allowed_lateness_seconds
    mark = watermarks.get(ev.service)
    if mark is not None and ev.ts < mark - lateness:
        return _reject(
            obj,
            raw,
            "late",
            f"ts: {ev.ts:.3f} is {mark - ev.ts:.0f}s behind the newest event of {ev.service!r}; "
            f"allowed lateness is {lateness}s",
            index,
        )
    bucket_s = cfg.settings.bucket_seconds
    if isinstance(ev, AggregateOutcome):
        chosen = _slos_for_aggregate(ev, slos)
        if isinstance(chosen, str):
            return _reject(
                obj,
                raw,
                chosen,
                f"slo: expected one of {[s.id for s in slos]} for pre-counted outcomes, "
                f"got {ev.slo!r}",
                index,
            )
        bad = ev.total - ev.good
        for slo in chosen:
            into.add(slo.id, ev.ts, bucket_s, bad, ev.total, offset)
            for journey, w in cfg.journeys_of(slo.id):
                into.add(journey, ev.ts, bucket_s, bad * w, ev.total * w, offset)
    else:
        for slo in slos:
            good = judge(slo, ev)
            if good is None:
                into.skipped[slo.id] = into.skipped.get(slo.id, 0) + 1
                continue
            into.add(slo.id, ev.ts, bucket_s, 0 if good else 1, 1, offset)
            for journey, w in cfg.journeys_of(slo.id):
                into.add(journey, ev.ts, bucket_s, 0 if good else w, w, offset)
    into.accepted[ev.service] = into.accepted.get(ev.service, 0) + 1
    if mark is None or ev.ts > mark:
        watermarks[ev.service] = ev.ts
    return None


def split_message(raw: bytes, max_bytes: int = 2**20) -> list[tuple[Any, bytes | None]] | Rejection:
    """The outcomes of one message, each with its own bytes for the DLQ (None for an element
    of an array: encoded only if it is rejected), or why the message can't be read."""
    if len(raw) > max_bytes:
        return Rejection(
            "too_large", f"(message): {len(raw)} bytes, expected at most {max_bytes}", raw
        )
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        return Rejection("invalid_json", f"(message): not valid JSON: {e}", raw)
    if isinstance(doc, list):
        return [(obj, None) for obj in doc]
    return [(doc, raw)]


def ingest_message(
    raw: bytes,
    cfg: Config,
    now: float,
    into: Aggregate,
    watermarks: dict[str, float],
    offset: int = 0,
    judged: Callable[[bytes], None] | None = None,
) -> list[Rejection]:
    """Decode one Kafka message (an outcome or a JSON array of them, at ``offset`` in its
    partition) into ``into``: all of its accepted outcomes, or none of them. ``judged`` runs
    after the last judgment, inside the containment (the worker's fault-injection point).

    Contained: an unexpected error while judging the message (a bug, or input no test
    foresaw) leaves ``into`` and ``watermarks`` as they were and rejects the whole message as
    ``internal_error`` with the exception's class; it never costs another message.
    """
    mine = Aggregate()
    marks: ChainMap[str, float] = ChainMap({}, watermarks)  # writes stay in this message
    try:
        items = split_message(raw, cfg.settings.max_message_bytes)
        if isinstance(items, Rejection):
            return [items]
        out = []
        for i, (obj, own) in enumerate(items):
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
