"""Prometheus metrics of one worker, in their own registry (base units, `_total` counters)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from streams.core.durations import window_label
from streams.core.release_gate import DECISIONS
from streams.core.slo_math import SloStatus


class OtlpMetrics:
    """What OpenTelemetry input amounted to; the worker's and ``sloburn otlp``'s own."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.spans = Counter(
            "sloburn_otlp_spans_total",
            "OTLP spans read, by result: counted, rejected (bad times or status, answered in "
            "partial_success or dead-lettered), not_a_request (a span kind no SLO counts), "
            "unknown_service (no SLO), no_slo (no SLO of the service covers its operation).",
            ["result"],
            registry=registry,
        )
        self.requests = Counter(
            "sloburn_otlp_requests_total",
            "OTLP/HTTP export requests answered, by HTTP status code.",
            ["code"],
            registry=registry,
        )

    def tally(self, results: Mapping[str, int]) -> None:
        """Count one request's or message's spans by result."""
        for result, n in results.items():
            self.spans.labels(result).inc(n)


class Metrics:
    """Every metric the worker exposes on /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.otlp = OtlpMetrics(self.registry)
        # Per SLO, its series and their children: kept for removal, and reused because
        # labels() costs more than the set (ten thousand SLOs, ~17 series each).
        self._series: dict[str, dict[tuple[Gauge, tuple[str, ...]], Any]] = {}
        self._decisions: dict[str, str] = {}  # service -> the decision its gauge shows
        r = self.registry
        self.budget_remaining = Gauge(
            "sloburn_error_budget_remaining_ratio",
            "Error budget left over the SLO window (1 = untouched, negative = overspent).",
            ["service", "slo"],
            registry=r,
        )
        self.budget_consumed = Gauge(
            "sloburn_error_budget_consumed_ratio",
            "Error budget spent over the SLO window (1 = all of it).",
            ["service", "slo"],
            registry=r,
        )
        self.burn_rate = Gauge(
            "sloburn_burn_rate",
            "Error ratio over the window divided by the budget ratio (1 - target).",
            ["service", "slo", "window"],
            registry=r,
        )
        self.alert_firing = Gauge(
            "sloburn_alert_firing",
            "1 while a burn-rate rule fires, else 0.",
            ["service", "slo", "rule", "severity"],
            registry=r,
        )
        self.events_accepted = Counter(
            "sloburn_events_accepted_total",
            "Outcome events accepted by ingest.",
            ["service"],
            registry=r,
        )
        self.events_rejected = Counter(
            "sloburn_events_rejected_total",
            "Outcome events sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=r,
        )
        self.dlq_records = Counter(
            "sloburn_dlq_records_total",
            "Records written to the outcomes dead-letter topic: one per rejected message, "
            "however many of its outcomes were rejected.",
            registry=r,
        )
        self.internal_errors = Counter(
            "sloburn_internal_errors_total",
            "Messages an agent failed on unexpectedly; each was dead-lettered (reason "
            "internal_error) and cost no other message.",
            ["agent"],
            registry=r,
        )
        self.outcomes_skipped = Counter(
            "sloburn_outcomes_skipped_total",
            "Accepted outcomes an SLO did not count: not one of its operations, or it could not "
            "judge them (e.g. no latency_ms for a latency SLO).",
            ["slo"],
            registry=r,
        )
        self.sli_contributions_skipped = Counter(
            "sloburn_sli_contributions_deduplicated_total",
            "Per-message SLI contributions skipped: their table block already held them "
            "(redelivery, or an ingest batch re-run after a crash).",
            registry=r,
        )
        self.input_redeliveries = Counter(
            "sloburn_input_redeliveries_total",
            "Input messages delivered twice within one ingest batch; the second copy is "
            "skipped (a copy in a later batch is skipped by the window table).",
            registry=r,
        )
        self.notifications_sent = Counter(
            "sloburn_notifications_sent_total",
            "Notifications accepted by a receiver.",
            ["receiver", "state"],
            registry=r,
        )
        self.notification_retries = Counter(
            "sloburn_notification_retries_total",
            "Notification attempts that will be retried.",
            ["receiver"],
            registry=r,
        )
        self.notification_failures = Counter(
            "sloburn_notification_failures_total",
            "Notifications given up on (sent to the notifications dead-letter topic).",
            ["receiver"],
            registry=r,
        )
        self.notifications_skipped = Counter(
            "sloburn_notifications_skipped_total",
            "Alert events not sent to a receiver, by reason (already sent, silenced, ...).",
            ["receiver", "reason"],
            registry=r,
        )
        self.receiver_misconfigured = Gauge(
            "sloburn_receiver_misconfigured",
            "1 when the receiver's last answer says its URL or key is wrong (Slack 403/404/410).",
            ["receiver"],
            registry=r,
        )
        self.time_to_exhaustion = Gauge(
            "sloburn_error_budget_time_to_exhaustion_seconds",
            "Seconds until the budget is gone at the burn rate of the window (+Inf: never).",
            ["service", "slo", "window"],
            registry=r,
        )
        self.gate_decision = Gauge(
            "sloburn_gate_decision",
            "1 for a service's current release decision, 0 for the others.",
            ["service", "decision"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "sloburn_consumer_lag_messages",
            "Messages in the worker's assigned partitions not yet read, per topic.",
            ["topic"],
            registry=r,
        )
        self.broker_up = Gauge(
            "sloburn_broker_up",
            "1 while the Kafka broker answers the worker's once-a-second metadata request.",
            registry=r,
        )
        self.broker_outages = Counter(
            "sloburn_broker_outages_total",
            "Times the broker stopped answering.",
            registry=r,
        )
        self.broker_outage_seconds = Gauge(
            "sloburn_broker_outage_seconds",
            "How long the current broker outage has lasted (0 while it answers).",
            registry=r,
        )
        self.config_reloads = Counter(
            "sloburn_config_reloads_total",
            "Config reloads (SIGHUP or POST /v1/reload), by result; a failed one keeps the old.",
            ["result"],
            registry=r,
        )
        self.config_last_reload_ok = Gauge(
            "sloburn_config_last_reload_successful",
            "1 if the last reload succeeded (or none was tried), 0 if it failed.",
            registry=r,
        )
        self.config_last_reload_ok.set(1)
        self.config_last_reload_time = Gauge(
            "sloburn_config_last_reload_success_timestamp_seconds",
            "When the running config was loaded (start or last successful reload).",
            registry=r,
        )
        self.config_last_reload_time.set_to_current_time()
        self.evaluation_seconds = Gauge(
            "sloburn_evaluation_duration_seconds",
            "Wall time of the last evaluation tick over all SLOs.",
            registry=r,
        )

    def observe_status(self, st: SloStatus) -> None:
        """Publish one SLO's evaluation."""
        svc, slo = st.slo.service, st.slo.id
        series = self._series.setdefault(slo, {})

        def put(g: Gauge, labels: tuple[str, ...], value: float) -> None:
            child = series.get((g, labels))
            if child is None:
                child = series[(g, labels)] = g.labels(*labels)
            child.set(value)

        put(self.budget_remaining, (svc, slo), st.budget.remaining)
        put(self.budget_consumed, (svc, slo), st.budget.consumed)
        for w in st.windows:
            put(self.burn_rate, (svc, slo, window_label(w)), st.burn(w))
        for rs in st.rules:
            labels = (svc, slo, rs.rule.name, rs.rule.severity)
            put(self.alert_firing, labels, 1 if rs.state.firing else 0)
        for w, seconds in st.time_to_exhaustion_s.items():
            put(
                self.time_to_exhaustion,
                (svc, slo, window_label(w)),
                math.inf if seconds is None else seconds,
            )

    def forget_slo(self, slo_id: str) -> None:
        """Drop an SLO's series: another worker owns it now, and two workers exporting the same
        series with different values would be worse than one."""
        for g, labels in self._series.pop(slo_id, {}):
            g.remove(*labels)

    def forget_slos(self) -> None:
        """Drop every per-SLO series; the next evaluation tick publishes the current SLOs."""
        for g in (
            self.budget_remaining,
            self.budget_consumed,
            self.burn_rate,
            self.alert_firing,
            self.time_to_exhaustion,
        ):
            g.clear()
        self._series.clear()

    def observe_decision(self, service: str, decision: str) -> None:
        """Publish a service's release decision as a one-hot gauge. Written only when it
        changes: ten thousand services decided every 10 s spent 3 % of a worker's CPU
        setting the same six series again."""
        if self._decisions.get(service) == decision:
            return
        self._decisions[service] = decision
        for d in DECISIONS:
            self.gate_decision.labels(service, d).set(1 if d == decision else 0)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
