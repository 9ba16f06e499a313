"""Failure isolation for agents: what happens when handling a message fails unexpectedly.

The rule (README "Failure isolation", DESIGN.md): an unexpected error while handling one
message dead-letters that message (reason ``internal_error``, with the exception class) and is
counted; it never costs another message. An error an agent cannot contain (it cannot publish
what it applied, or its state may be half-written) stops the worker at once, before any
offset past what was applied can be committed: Faust acknowledges every event of a
``take_events`` batch when an agent crashes and restarts it past them, which is how a crash
used to lose the good events that shared a batch with a bad one.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

log = logging.getLogger(__name__)

EXIT_STOPPED = 70  # EX_SOFTWARE: a supervisor restarts the worker; recovery is exact


def source_of(event: Any) -> dict[str, object]:
    """Where a Faust event's message came from, for its dead-letter record."""
    msg = event.message
    return {"topic": msg.topic, "partition": msg.partition, "offset": msg.offset}


def stop_worker(agent: str, exc: BaseException) -> NoReturn:
    """Stop the process now: no further event-loop turn, so no offset commit, happens."""
    log.critical(
        "%s agent cannot contain %s: %s; stopping the worker without committing past what "
        "was applied (a restart recovers exactly)",
        agent,
        type(exc).__name__,
        exc,
        exc_info=exc,
    )
    logging.shutdown()
    os._exit(EXIT_STOPPED)


def contained(
    agent: str,
) -> Callable[[Callable[[Any], Awaitable[None]]], Callable[[Any], Awaitable[None]]]:
    """Wrap an agent body so that an exception escaping it stops the worker (stop_worker)
    instead of Faust's restart past the batch in hand."""

    def wrap(body: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
        @functools.wraps(body)
        async def run(stream: Any) -> None:
            try:
                await body(stream)
            except Exception as exc:
                stop_worker(agent, exc)

        return run

    return wrap


def restart_in_place(why: str) -> NoReturn:
    """Start the worker afresh in this same process (same PID, same arguments): for when
    what Faust holds can no longer be trusted to move on by itself. Recovery is exact, so a
    restart costs time, never counts.

    A broker that came back empty (the embedded broker after a restart) has no changelogs, no
    committed offsets and no group left, while Faust still holds positions, generations and
    recovery offsets of the one that is gone; measured, its table recovery can then wait
    forever. Starting clean against the new broker is the one state both sides agree on. The
    counts this worker held lived only in the lost broker's changelogs anyway.
    """
    log.warning("restarting the worker in place (pid %d): %s", os.getpid(), why)
    logging.shutdown()
    os.execv(sys.executable, [sys.executable, "-m", "streams.cli", *sys.argv[1:]])
