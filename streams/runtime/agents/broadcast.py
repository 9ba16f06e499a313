"""Silences and exclusions: every worker follows the whole ``sloburn.silences`` and
``sloburn.control`` topics into memory (a silence must hold, and an exclusion count, on
whichever worker owns the SLO), and publishes the ones its API creates or changes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

from aiokafka import AIOKafkaConsumer
from pydantic import BaseModel, ValidationError

from streams.core.exclusions import Exclusion
from streams.core.silences import Silence
from streams.kafka import topics
from streams.runtime.wiring import Wiring

log = logging.getLogger(__name__)


async def publish(w: Wiring, silence: Silence) -> None:
    """Store a new or changed (expired) silence: here at once, everywhere through the topic."""
    w.silences[silence.id] = silence
    await w.silences_topic.send(key=silence.id.encode(), value=silence.model_dump_json().encode())


def _take_exclusion(w: Wiring, e: Exclusion) -> None:
    w.exclusions[e.id] = e
    w.evaluator.exclusions = list(w.exclusions.values())


async def publish_exclusion(w: Wiring, exclusion: Exclusion) -> None:
    """Store a new or deleted exclusion: here at once, everywhere through the control topic."""
    _take_exclusion(w, exclusion)
    await w.control_topic.send(
        key=exclusion.id.encode(), value=exclusion.model_dump_json().encode()
    )


M = TypeVar("M", bound=BaseModel)


def _follow(w: Wiring, topic: str, model: type[M], take: Callable[[M], None]) -> None:
    """A task reading ``topic`` from its start into ``take``, again after a broker outage."""
    rt = w.runtime

    async def follow() -> None:
        while True:
            consumer = AIOKafkaConsumer(
                topic,
                bootstrap_servers=rt.broker,
                group_id=None,
                auto_offset_reset="earliest",
                **rt.security.aiokafka_kwargs(),
            )
            try:
                await consumer.start()
                async for msg in consumer:
                    try:
                        record = model.model_validate_json(msg.value or b"")
                        take(record)
                    except ValidationError:
                        log.error("unreadable record on %s skipped", topic)
                    except Exception:  # contained: this record only, the follower goes on
                        log.exception("record on %s could not be applied; skipped", topic)
                        w.metrics.internal_errors.labels(f"follow {topic}").inc()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the broker went away: keep what we know, follow again
                log.warning("following %s interrupted (%s); again in 2s", topic, e)
                await asyncio.sleep(2)
            finally:
                await consumer.stop()

    w.app.task(follow)


def register(w: Wiring) -> None:
    """Attach the tasks following the silences and control topics."""
    _follow(w, topics.SILENCES, Silence, lambda s: w.silences.__setitem__(s.id, s))
    _follow(w, topics.CONTROL, Exclusion, lambda e: _take_exclusion(w, e))
