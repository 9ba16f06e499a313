"""Scripted request traffic: healthy history, then an outage, then recovery.

Used by the demo and the end-to-end tests. Pure: a plan of Kafka messages (JSON arrays of
outcomes) with their event times, deterministic for a given start time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from streams.buckets import floor_to


@dataclass(frozen=True)
class Scenario:
    """Event-time plan (unix seconds): history until ``live_from``, outage in [outage_start,
    outage_end), raw outcomes until ``end``. ``error_every`` = 1 bad request per that many in
    healthy traffic."""

    service: str
    history_from: float
    live_from: float
    outage_start: float
    outage_end: float
    end: float
    requests_per_bucket: int = 60
    bucket_s: int = 10
    error_every: int = 3000

    @classmethod
    def ending_at(
        cls,
        service: str,
        end: float,
        history_s: int,
        live_s: int,
        outage_after_s: int,
        outage_s: int,
        error_every: int = 3000,
    ) -> Scenario:
        """A scenario whose last event is just before ``end`` (e.g. now)."""
        live_from = floor_to(end - live_s, 10)
        return cls(
            service=service,
            history_from=live_from - history_s,
            live_from=live_from,
            outage_start=live_from + outage_after_s,
            outage_end=live_from + outage_after_s + outage_s,
            end=end,
            error_every=error_every,
        )

    def history(self, per_message: int = 100) -> Iterator[bytes]:
        """Pre-aggregated good/total per bucket before the live part, batched per message."""
        batch: list[dict[str, object]] = []
        bad_acc = 0
        t = floor_to(self.history_from, self.bucket_s)
        while t < self.live_from:
            bad_acc += self.requests_per_bucket
            bad, bad_acc = divmod(bad_acc, self.error_every)
            total = self.requests_per_bucket
            batch.append({"service": self.service, "ts": t, "good": total - bad, "total": total})
            if len(batch) == per_message:
                yield orjson.dumps(batch)
                batch = []
            t += self.bucket_s
        if batch:
            yield orjson.dumps(batch)

    def live(self) -> Iterator[tuple[float, bytes]]:
        """One message per bucket of raw outcomes (a JSON array), with the bucket's start."""
        t = self.live_from
        n = 0
        while t < self.end:
            outs = []
            step = self.bucket_s / self.requests_per_bucket
            for i in range(self.requests_per_bucket):
                ts = t + i * step
                if ts >= self.end:
                    break
                n += 1
                down = self.outage_start <= ts < self.outage_end
                failed = down or n % self.error_every == 0
                outs.append(
                    {
                        "service": self.service,
                        "ts": round(ts, 3),
                        "status_code": 503 if failed else 200,
                        "latency_ms": 900.0 if down else 40.0 + (n % 7) * 5,
                        "route": "/pay",
                    }
                )
            if outs:
                yield t, orjson.dumps(outs)
            t += self.bucket_s
