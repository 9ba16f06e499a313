"""A worker whose tables stay unsettled without recovery progress restarts itself: nothing is
evaluated meanwhile, so nothing would page. A recovery that progresses is left alone."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from streams.runtime.agents import evaluator
from streams.runtime.agents.evaluator import Stuck, recovery_progress


class Restarted(Exception):
    pass


@pytest.fixture
def restarts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    said: list[str] = []

    def restart(why: str) -> None:
        said.append(why)
        raise Restarted

    monkeypatch.setattr(evaluator, "restart_in_place", restart)
    return said


def test_unsettled_without_progress_past_the_limit_restarts(restarts: list[str]) -> None:
    stuck = Stuck(120)
    for t in range(0, 121, 10):
        stuck.observe(float(t), progress=7)
    assert restarts == []
    with pytest.raises(Restarted):
        stuck.observe(121.5, progress=7)
    assert restarts == ["tables unsettled for 122 s without progress"]


def test_progress_or_settling_starts_the_count_again(restarts: list[str]) -> None:
    stuck = Stuck(120)
    for t in range(0, 1000, 10):
        stuck.observe(float(t), progress=t // 100)  # a long recovery, moving
    stuck.clear()
    stuck.observe(1000.0, progress=0)
    stuck.observe(1100.0, progress=0)
    assert restarts == []


def test_recovery_progress_sums_what_recovery_applied() -> None:
    recovery = SimpleNamespace(active_offsets={"a": 5, "b": None}, standby_offsets={"c": 2})
    assert recovery_progress(SimpleNamespace(tables=SimpleNamespace(recovery=recovery))) == 7
    assert recovery_progress(SimpleNamespace(tables=SimpleNamespace())) == 0
