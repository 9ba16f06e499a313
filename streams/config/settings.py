"""Engine tuning shared by every SLO: the ``settings`` section."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Settings(BaseModel):
    """Engine tuning shared by every SLO (all durations in seconds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket_seconds: Annotated[int, Field(gt=0, le=3600)] = 10
    evaluation_interval_seconds: Annotated[float, Field(gt=0, le=3600)] = 1.0
    allowed_lateness_seconds: Annotated[int, Field(ge=0)] = 300
    max_future_seconds: Annotated[int, Field(ge=0)] = 300
    partitions: Annotated[int, Field(gt=0, le=256)] = 8
    max_message_bytes: Annotated[int, Field(gt=0, le=16 * 2**20)] = 2**20
    # How often consumed offsets are committed (Faust's default). Counting is exact whatever
    # it is; a longer interval only means more redelivery, which the tables skip, after a crash.
    commit_interval_seconds: Annotated[float, Field(gt=0, le=3600)] = 2.8
    # Each table partition is also kept warm on this many other workers, so a failover does
    # not wait for a full changelog replay.
    standby_replicas: Annotated[int, Field(ge=0, le=8)] = 1
    # Replicas of each topic sloburn creates (its own and the tables' changelogs). Unset: 3 on
    # an Apache Kafka cluster of three brokers or more, else as many as it has; 1 on the
    # embedded broker (streams.kafka.broker_probe). Existing topics are never altered.
    replication_factor: Annotated[int, Field(gt=0, le=16)] | None = None

    @field_validator("bucket_seconds")
    @classmethod
    def _divides_hour(cls, v: int) -> int:
        if 3600 % v:
            raise ValueError("must divide 3600 evenly (e.g. 5, 10, 15, 30, 60)")
        return v
