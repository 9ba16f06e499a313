"""A normal start logs no ERROR: waiting for a broker that is still starting is expected, and
used to print aiokafka's 'Unable connect to ...' at ERROR on every `scripts/run`."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from streams.local.embedded_broker import free_port, wait_until_answers


@pytest.fixture
def aiokafka_logs_everything() -> Iterator[logging.Logger]:
    # The CLI quiets aiokafka for client commands, and other tests run the CLI in process.
    log = logging.getLogger("aiokafka")
    before = log.level
    log.setLevel(logging.NOTSET)
    yield log
    log.setLevel(before)


def test_waiting_for_a_starting_broker_logs_no_error(
    caplog: pytest.LogCaptureFixture, aiokafka_logs_everything: logging.Logger
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(TimeoutError):
        wait_until_answers(f"127.0.0.1:{free_port()}", timeout_s=0.5)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert aiokafka_logs_everything.level == logging.NOTSET  # put back


def test_a_coordinator_not_ready_yet_is_a_warning_not_an_error() -> None:
    from streams.runtime.log_format import RetriableAsWarning

    def record(msg: str) -> logging.LogRecord:
        return logging.LogRecord(
            "aiokafka.consumer.group_coordinator", logging.ERROR, "", 0, msg, (), None
        )

    transient = record(
        "Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError"
    )
    other = record("Unexpected error in coordinator routine")
    f = RetriableAsWarning()
    assert f.filter(transient) and f.filter(other)  # both stay in the log
    assert (transient.levelno, transient.levelname) == (logging.WARNING, "WARNING")
    assert other.levelno == logging.ERROR
