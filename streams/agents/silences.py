"""Silences: every worker follows the whole ``sloburn.silences`` topic into memory (a silence
must hold on whichever worker owns the alert), and publishes the ones the API creates."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from streams import topics
from streams.app import Wiring
from streams.notify.silences import Silence

log = logging.getLogger(__name__)


async def publish(w: Wiring, silence: Silence) -> None:
    """Store a new or changed (expired) silence: here at once, everywhere through the topic."""
    w.silences[silence.id] = silence
    await w.silences_topic.send(key=silence.id.encode(), value=silence.model_dump_json().encode())


def register(w: Wiring) -> None:
    """Attach the task following the silences topic."""
    rt = w.runtime

    @w.app.task
    async def follow_silences() -> None:
        while True:
            consumer = AIOKafkaConsumer(
                topics.SILENCES,
                bootstrap_servers=rt.broker,
                group_id=None,
                auto_offset_reset="earliest",
                **rt.security.aiokafka_kwargs(),
            )
            try:
                await consumer.start()
                async for msg in consumer:
                    try:
                        s = Silence.model_validate_json(msg.value or b"")
                    except ValidationError:
                        log.error("unreadable record on %s skipped", topics.SILENCES)
                        continue
                    w.silences[s.id] = s
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the broker went away: keep what we know, follow again
                log.warning("following %s interrupted (%s); again in 2s", topics.SILENCES, e)
                await asyncio.sleep(2)
            finally:
                await consumer.stop()
