"""Config reload in a running worker (SIGHUP or ``POST /v1/reload``).

A reload is all or nothing: the files are parsed and checked completely first, and any problem
keeps the running config, as Prometheus and Alertmanager do. Settings that shape topics, table
layout or timers can't change under a running worker; changing them is refused with the reason.
A rule that disappears while firing is resolved, so no page stays open that nothing will close.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from dataclasses import dataclass

from streams.config.errors import ConfigError
from streams.config.loading import load_config
from streams.config.model import Config
from streams.kafka import topics
from streams.runtime.wiring import Wiring
from streams.state.evaluation import alert_event

log = logging.getLogger(__name__)

FIXED_SETTINGS = (
    "partitions",
    "bucket_seconds",
    "evaluation_interval_seconds",
    "commit_interval_seconds",
    "standby_replicas",
)


@dataclass(frozen=True)
class ReloadResult:
    """``ok`` and what changed, or not ok and every problem (one line each)."""

    ok: bool
    lines: tuple[str, ...]


def blockers(old: Config, new: Config) -> list[str]:
    """Changes only a restart can apply (topics, table layout and timers depend on them)."""
    out = [
        f"settings.{name}: changed from {getattr(old.settings, name)} to "
        f"{getattr(new.settings, name)}; this needs a worker restart"
        for name in FIXED_SETTINGS
        if getattr(old.settings, name) != getattr(new.settings, name)
    ]
    if old.otlp.kafka_topics != new.otlp.kafka_topics:
        out.append("otlp.kafka_topics: changed; the agents reading them need a worker restart")
    return out


def changes(old: Config, new: Config) -> list[str]:
    """Human lines naming the SLOs added, removed and changed."""
    before = {s.id: s for s in old.slos}
    after = {s.id: s for s in new.slos}
    out = [f"added {i}" for i in after if i not in before]
    out += [f"removed {i}" for i in before if i not in after]
    out += [f"changed {i}" for i in after if i in before and after[i] != before[i]]
    if old.notifications != new.notifications:
        out.append("changed notifications")
    return out or ["no change"]


def gone_rules(old: Config, new: Config) -> list[tuple[str, str]]:
    """(SLO id, rule name) of rules whose alert identity (SLO, name, severity) no longer exists."""
    kept = {(s.id, r.name, r.severity) for s in new.slos for r in s.alerts}
    return [
        (s.id, r.name) for s in old.slos for r in s.alerts if (s.id, r.name, r.severity) not in kept
    ]


async def reload(w: Wiring, trigger: str) -> ReloadResult:
    """Re-read the worker's config files and switch to them, or keep the old config."""
    old = w.cfg
    try:
        new = load_config(old.sources)
        problems = blockers(old, new)
    except ConfigError as e:
        problems = e.lines
    except Exception as e:  # an unreadable file or anything else: never take the worker down
        problems = [f"{type(e).__name__}: {e}"]
    if problems:
        w.metrics.config_reloads.labels("failed").inc()
        w.metrics.config_last_reload_ok.set(0)
        for line in problems:
            log.error("config reload (%s) failed, keeping the running config: %s", trigger, line)
        return ReloadResult(False, tuple(problems))
    await _resolve_gone(w, old, new)
    live = {s.id for s in new.slos}
    for slo_id in [i for i in w.published.statuses if i not in live]:
        del w.published.statuses[slo_id]
    for slo_id in [i for i in w.clocks if i not in live]:
        del w.clocks[slo_id]
    w.cfg = new
    w.buckets.slicing = dict(new.slicing)
    w.evaluator.lateness_s = new.settings.allowed_lateness_seconds
    w.evaluator.sums.reset()  # window lengths may have changed: recompute from the buckets
    w.metrics.forget_slos()  # republished at the next tick, without the removed SLOs
    w.metrics.config_reloads.labels("ok").inc()
    w.metrics.config_last_reload_ok.set(1)
    w.metrics.config_last_reload_time.set(time.time())
    done = changes(old, new)
    log.info(  # a reload that worked is routine; a refused one is the warning
        "config reloaded (%s) from %s: %s", trigger, ", ".join(new.sources), "; ".join(done)
    )
    return ReloadResult(True, tuple(done))


async def _resolve_gone(w: Wiring, old: Config, new: Config) -> None:
    """Send a resolve for every rule of this worker's SLOs that fired and no longer exists."""
    n = old.settings.partitions
    for slo_id, rule_name in gone_rules(old, new):
        st = w.published.statuses.get(slo_id)
        if st is None:
            continue  # not evaluated here: the owning worker resolves it
        for rs in st.rules:
            if rs.rule.name == rule_name and rs.state.firing:
                ev = alert_event(st, rs, "resolved")
                await w.alerts.send(
                    key=slo_id.encode(),
                    value=ev.model_dump_json().encode(),
                    partition=topics.partition_for_slo(slo_id, n),
                )
                log.warning(
                    "resolved %s %s: its rule was removed by a config reload", slo_id, rule_name
                )
        w.alert_states.pop(f"{slo_id}|{rule_name}", None)


def register(w: Wiring) -> None:
    """Reload on SIGHUP, the signal daemons conventionally reload on."""

    @w.app.task
    async def on_sighup() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(reload(w, "SIGHUP")))
