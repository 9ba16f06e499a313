"""The loaded configuration: every SLO, the settings and the notifications, merged from one or
more files, with the lookups the engine makes on every outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property

from streams.config.notifications import Notifications
from streams.config.otlp import Otlp
from streams.config.settings import Settings
from streams.core.slo import SLO


@dataclass(frozen=True)
class Config:
    """Everything the worker needs, merged from one or more files."""

    slos: tuple[SLO, ...]
    settings: Settings
    notifications: Notifications
    sources: tuple[str, ...]
    otlp: Otlp = field(default_factory=Otlp)
    warnings: tuple[str, ...] = ()  # loadable but probably not what was meant

    def slo(self, slo_id: str) -> SLO | None:
        """The SLO with this id, or None."""
        return self._by_id.get(slo_id)

    def slos_of(self, service: str) -> tuple[SLO, ...]:
        """Every SLO measured on a service's outcomes (asked once per ingested outcome); a
        journey is measured on its members' judgments, never on outcomes of its own."""
        return self._by_service.get(service, ())

    def journeys_of(self, slo_id: str) -> tuple[tuple[str, int], ...]:
        """(journey id, weight) of every journey an SLO is a member of."""
        return self._journeys.get(slo_id, ())

    @cached_property
    def _journeys(self) -> dict[str, tuple[tuple[str, int], ...]]:
        out: dict[str, tuple[tuple[str, int], ...]] = {}
        for j in self.slos:
            for member, weight in j.members:
                out[member] = (*out.get(member, ()), (j.id, weight))
        return out

    @cached_property
    def _by_id(self) -> dict[str, SLO]:
        return {s.id: s for s in self.slos}

    @cached_property
    def _by_service(self) -> dict[str, tuple[SLO, ...]]:
        out: dict[str, tuple[SLO, ...]] = {}
        for s in self.slos:
            if not s.members:
                out[s.service] = (*out.get(s.service, ()), s)
        return out

    @property
    def slicing(self) -> dict[str, tuple[int, Fraction]]:
        """Timeslices SLOs: id -> (slice seconds, slice target), for the bucket store, which
        judges slices as it writes buckets."""
        return {
            s.id: (s.timeslice_s, s.timeslice_target)
            for s in self.slos
            if s.timeslice_s is not None and s.timeslice_target is not None
        }

    @cached_property
    def services(self) -> tuple[str, ...]:
        """Known service names, sorted (journeys are not services: nothing deploys them).
        Cached: the gate's timer walks them every tick, and 10,000 SLOs took 7 ms to sort."""
        return tuple(sorted({s.service for s in self.slos if not s.members}))
