"""The engine's own per-message floor: a Faust agent that only decodes each message.

``python -m bench.faust_loop BOOTSTRAP TOPIC N WORKDIR`` prints ``decoded N in S`` (seconds
from the first message to the N-th) and exits. Same Faust settings as the worker.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from typing import Any

import faust
import orjson


def main() -> None:
    """Run the decode-only agent until N messages were decoded."""
    bootstrap, topic_name, n, workdir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    app = faust.App(
        f"bench-decode-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=os.path.join(workdir, "faust-bench"),
        web_enabled=False,
        broker_session_timeout=10,
        broker_heartbeat_interval=1,
        consumer_auto_offset_reset="earliest",
        autodiscover=False,
    )
    topic = app.topic(topic_name, key_serializer="raw", value_serializer="raw")
    seen = [0]
    started = [0.0]

    @app.agent(topic)
    async def decode(stream: Any) -> None:
        async for value in stream:
            if not seen[0]:
                started[0] = time.perf_counter()
            orjson.loads(value)
            seen[0] += 1
            if seen[0] == n:
                print(f"decoded {n} in {time.perf_counter() - started[0]:.3f}", flush=True)
                os._exit(0)

    faust.Worker(app, loglevel="warn", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
