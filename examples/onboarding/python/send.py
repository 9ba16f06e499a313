"""Reports request outcomes to sloburn from a Python service, with sloburn's OutcomeClient.

The client batches outcomes (JSON arrays, one Kafka message per service and flush, every
second by default), sends with acks=all, and checks each outcome against the event schema at
``record`` (a ValueError is the caller's bug, reported at once).

    SLOBURN_BROKERS=127.0.0.1:9092 SERVICE=my-service python send.py
"""

import asyncio
import os
import time

from streams.kafka.client import OutcomeClient


async def main() -> None:
    service = os.environ["SERVICE"]
    client = OutcomeClient(os.environ["SLOBURN_BROKERS"])
    await client.start()
    try:
        # In a service, call record() from the request handler (or a middleware).
        for i in range(100):
            status = 503 if i % 33 == 32 else 200
            outcome = {"service": service, "ts": time.time(), "status_code": status}
            await client.record({**outcome, "latency_ms": 12.5, "route": "/pay"})
    finally:
        await client.stop()  # flushes what is buffered and waits for the acknowledgements
    print(f"sent {client.recorded} outcomes of {service}")


if __name__ == "__main__":
    asyncio.run(main())
