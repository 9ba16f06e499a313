"""Which SLOs an evaluation tick must evaluate (and which services the gate timer must decide
again), so that ten thousand SLOs fit in one tick.

A window holds whole cells, so between two evaluations an SLO's counts change only when a
record lands in it or its clock crosses into another cell; evaluating it in between repeats
the last answer. An SLO is therefore due when something landed in it, or once per cell of
clock time. Each SLO crosses its cells at its own phase (a hash of its id), so a quiet fleet
spreads over the cell instead of all being due in the tick after a boundary. The cost of
skipping: what only time changes (a window's edge passing old errors, a resolve hold
running out) is seen up to one cell late.

An SLO may also be held quiet until a clock time (streams.state.quiet: when its answer can
next change with no record): until then a due cell repeats the last answer at the new time
instead of evaluating.
"""

from __future__ import annotations

import math
import zlib


class Due:
    """Per SLO (or service), the cell of clock time it was last evaluated in."""

    def __init__(self, cell_s: int) -> None:
        self.cell_s = cell_s
        self._evaluated_in: dict[str, int] = {}
        self._phase: dict[str, int] = {}
        self._quiet_until: dict[str, float] = {}

    def forget(self) -> None:
        """Make every SLO due and none quiet (after what changes counts without a record: a
        rebalance, a config reload, an exclusion)."""
        self._evaluated_in.clear()
        self._quiet_until.clear()

    def hold(self, slo_id: str, until: float) -> None:
        """The SLO's answer cannot change before clock time ``until`` without a record."""
        self._quiet_until[slo_id] = until

    def quiet(self, slo_id: str, t: float, changed: bool) -> bool:
        """Whether the last answer still holds at ``t`` (nothing landed, nothing moved)."""
        if changed:
            self._quiet_until.pop(slo_id, None)
            return False
        return t < self._quiet_until.get(slo_id, -math.inf)

    def due(self, slo_id: str, t: float, changed: bool) -> bool:
        """Whether the SLO must be evaluated at clock time ``t``; ``changed``: a record landed
        in it since its last evaluation. A True answer counts as evaluated."""
        phase = self._phase.get(slo_id)
        if phase is None:
            phase = self._phase[slo_id] = zlib.crc32(slo_id.encode()) % self.cell_s
        cell = int((t + phase) // self.cell_s)
        if not changed and self._evaluated_in.get(slo_id) == cell:
            return False
        self._evaluated_in[slo_id] = cell
        return True
