"""One JSON object per log line (``--log-format json``), for log pipelines (Loki, Elastic,
Cloud Logging) that would otherwise parse free text: time in ISO 8601 UTC, level, logger,
process id, message, and the traceback when there is one."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import orjson
from aiohttp.http_exceptions import HttpProcessingError

# The logger of sloburn's subclasses of Faust services (app, table, web server, producer
# buffer): their "Starting..."/"Stopping..." lines are the engine's, and follow its level.
ENGINE_LOGGER = logging.getLogger("faust.sloburn")


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


class RetriableAsWarning(logging.Filter):
    """aiokafka logs a group coordinator that is not ready as an ERROR, and retries. On Apache
    Kafka that happens at nearly every first start (the offsets topic is still being created):
    an ERROR line on a normal start. It stays in the log, as the warning it is."""

    RETRIABLE = (
        "GroupCoordinatorNotAvailableError",
        "NotCoordinatorForGroupError",
        "CoordinatorLoadInProgressError",
    )

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and any(
            r in record.getMessage() for r in self.RETRIABLE
        ):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


COORDINATOR_LOGGER = "aiokafka.consumer.group_coordinator"


class MalformedRequestAsWarning(logging.Filter):
    """aiohttp logs a request it cannot parse (a bad header, a broken request line) as an
    ERROR with its traceback, though the fault is the client's and it got its 400. A scanner or
    a fuzzer would fill the log with tracebacks that page nobody's attention to anything real.
    It stays in the log as one warning line; a handler's own failure stays an ERROR."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= exc.code < 500:
            said = " ".join(str(exc.message).split())[:200]
            record.msg, record.args = "%s: HTTP %d, %s", (record.getMessage(), exc.code, said)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


SERVER_LOGGER = "aiohttp.server"
