"""The ``otlp`` section: where OpenTelemetry spans come in (README "OpenTelemetry")."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# Topic names as Kafka allows them.
TopicName = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,249}$")]


class OtlpTopic(BaseModel):
    """A topic the OpenTelemetry Collector's Kafka exporter writes traces to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: TopicName
    encoding: Literal["otlp_proto", "otlp_json"] = "otlp_proto"  # the exporter's default


class Otlp(BaseModel):
    """OTLP inputs: Kafka topics the worker consumes, and the limits of POST /v1/traces."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kafka_topics: list[OtlpTopic] = []
    # Body limit, compressed and after gzip (a bomb stops here): the Collector's own default.
    max_request_bytes: Annotated[int, Field(gt=0, le=256 * 2**20)] = 20 * 2**20
    # Requests converted and produced at once per process; more are answered 429 with
    # Retry-After, which OTLP exporters honour, instead of queueing without bound.
    max_inflight_requests: Annotated[int, Field(gt=0, le=10_000)] = 64
