"""The worker assembled: the Faust app with its agents, timers and HTTP views registered."""

from __future__ import annotations

from streams.config.model import Config
from streams.http import routes
from streams.runtime import reload
from streams.runtime.agents import (
    broadcast,
    evaluator,
    gate,
    input_feed,
    sink,
    watchdog,
    windows,
)
from streams.runtime.faust_app import build_wiring
from streams.runtime.wiring import Runtime, Wiring


def build_app(cfg: Config, rt: Runtime) -> Wiring:
    """Create the app and register what runs on it; a replay worker only counts and answers
    evaluations (no wall-clock evaluation, notifications, gate or reload)."""
    w = build_wiring(cfg, rt)
    modules = (
        (input_feed, windows, watchdog, routes)
        if rt.replay_mode
        else (input_feed, windows, watchdog, evaluator, broadcast, sink, gate, routes, reload)
    )
    for module in modules:
        module.register(w)
    return w
