"""Counts of many judged outcomes per SLO, source message and bucket: what ingest hands the
window tables, cut into SLI records."""

from __future__ import annotations

from dataclasses import dataclass, field

from streams.state.sli_record import SliRecord

# Contributions per SLI record: about 30 bytes each, so a record stays far below the
# producer's 1 MiB request limit (one message's contributions are never split, see records).
RECORD_CONTRIBUTIONS_MAX = 10_000


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
        self.count(slo_id, offset, int(ts // bucket_s) * bucket_s, bad, total)  # floor_to
        if ts > self.newest.get(slo_id, 0.0):
            self.newest[slo_id] = ts

    def count(self, slo_id: str, offset: int, bucket: int, bad: int, total: int) -> None:
        """Fold counts of source message ``offset`` into one bucket (its start, unix s); the
        caller keeps ``newest``."""
        cell = self.counts.setdefault(slo_id, {}).setdefault((offset, bucket), [0, 0])
        cell[0] += bad
        cell[1] += total

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

    def records(self, source: str) -> list[SliRecord]:
        """The SLI records of each SLO, for outcomes read from ``source`` (SliRecord.source):
        one per SLO, or several in offset order when its contributions pass
        RECORD_CONTRIBUTIONS_MAX (a batch of a week of history made a 1.3 MB record, over the
        producer's 1 MiB limit).

        A cut falls only between two source offsets: the window table skips an offset its
        block already holds, so one message's contributions split over two records would
        lose the second part."""
        out = []
        for slo_id in self.counts:
            newest, last = self.newest[slo_id], -1
            chunk: list[tuple[int, int, int, int]] = []
            for c in self.contributions(slo_id):
                if len(chunk) >= RECORD_CONTRIBUTIONS_MAX and c[0] != last:
                    out.append(SliRecord(slo_id, chunk, newest, source))
                    chunk = []
                chunk.append(c)
                last = c[0]
            out.append(SliRecord(slo_id, chunk, newest, source))
        return out
