"""Receivers and routes: the ``notifications`` section, secrets read from the environment or
from files and never shown."""

from __future__ import annotations

import os
import stat
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from streams.config import safe_yaml
from streams.core.alerts import DEFAULT_SUMMARY, SUMMARY_FIELDS
from streams.core.enforcement import FrozenModel, SecretUrl, Url, check_url

SECRET_FILE_MAX_BYTES = 64 * 1024


def _secret(value: str, path: str, field: str) -> str:
    """A secret given inline (``${ENV}``) or as a file path (``*_file``, e.g. a mounted secret):
    a regular UTF-8 file of at most 64 KiB (not a FIFO that blocks, nor /dev/zero)."""
    if path:
        try:
            raw, _ = safe_yaml.read_regular_file(path, SECRET_FILE_MAX_BYTES)
            return raw.decode("utf-8").strip()
        except OSError as e:
            raise ValueError(f"{field}_file: cannot read {path}: {e.strerror}") from None
        except safe_yaml.FileRefused as e:
            raise ValueError(f"{field}_file: cannot read {path}: {e}") from None
        except UnicodeDecodeError:
            raise ValueError(f"{field}_file: {path}: expected UTF-8 text") from None
    return value


def secret_file_warnings(path: str, euid: int) -> list[str]:
    """Why a secret file's permissions deserve a look (empty: none): readable by group or
    others, or readable only because the process runs as root (so it would fail the day the
    worker runs as the user the file was meant for)."""
    try:
        st = os.stat(path)
    except OSError:
        return []  # reading it already failed with its reason
    mode = stat.S_IMODE(st.st_mode)
    out = []
    if mode & 0o077:
        who = " and ".join(w for w, bits in (("group", 0o070), ("others", 0o007)) if mode & bits)
        out.append(f"{path} is accessible to {who} (mode {mode:04o}); expected 0600 or 0400")
    if euid == 0 and (not mode & 0o400 or (st.st_uid != 0 and not mode & 0o004)):
        out.append(
            f"{path} is readable only because the worker runs as root (owner uid {st.st_uid}, "
            f"mode {mode:04o}); give it to the worker's user with mode 0600"
        )
    return out


class Receiver(FrozenModel):
    """One notification target. Secrets must be non-empty: a declared receiver that can't
    deliver is a config error at start, not a page lost at 3 a.m."""

    type: Literal["slack", "pagerduty"]
    webhook_url: SecretUrl = ""  # slack
    webhook_url_file: str = ""
    channel: str = ""  # slack: overrides the webhook's default channel
    routing_key: str = ""  # pagerduty (Events API v2 integration key)
    routing_key_file: str = ""
    events_url: Url = "https://events.pagerduty.com/v2/enqueue"

    @model_validator(mode="after")
    def _secrets_present(self) -> Receiver:
        key = "webhook_url" if self.type == "slack" else "routing_key"
        value = _secret(getattr(self, key), getattr(self, f"{key}_file"), key)
        if key == "webhook_url" and self.webhook_url_file:
            check_url(value, secret=True)  # read from the file: not checked by the field
        if not value:
            raise ValueError(
                f"{key} (or {key}_file) must be set and non-empty for a {self.type} receiver"
            )
        object.__setattr__(self, key, value)
        return self

    @property
    def secret(self) -> str:
        """The value that must never be shown (webhook URL or routing key)."""
        return self.webhook_url if self.type == "slack" else self.routing_key


class RouteMatch(FrozenModel):
    """Exact matches on the alert's labels; an absent field matches anything."""

    service: str | None = None
    slo: str | None = None
    severity: Literal["page", "ticket"] | None = None


class Route(FrozenModel):
    """Alertmanager-style route: first match wins unless ``continue`` is set."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    match: RouteMatch = RouteMatch()
    receivers: tuple[str, ...] = Field(min_length=1)
    group_wait_seconds: Annotated[float, Field(ge=0, le=3600)] = 0
    repeat_interval_minutes: Annotated[float, Field(gt=0)] = 240
    send_resolved: bool = True
    continue_: bool = Field(default=False, alias="continue")


class Notifications(BaseModel):
    """Receivers and routes; secrets arrive through ``${ENV_VAR}`` or files, never literally.

    The three flat fields are the short form: a ``slack`` and a ``pagerduty`` receiver, each
    disabled (said at start) when its secret is empty.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    slack_webhook_url: SecretUrl = ""
    pagerduty_routing_key: str = ""
    pagerduty_events_url: Url = "https://events.pagerduty.com/v2/enqueue"
    receivers: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9][\w.-]*$")], Receiver] = {}
    routes: tuple[Route, ...] = ()
    dashboard_url: str = ""  # link template: {slo}, {service}, {rule}
    runbook_url: str = ""
    summary_template: str = DEFAULT_SUMMARY
    deadline_seconds: Annotated[float, Field(gt=0, le=86400)] = 300
    attempt_timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 10
    # Alertmanager-style inhibition: while a page of an SLO fires, its tickets are held (and
    # delivered when the page resolves if they still fire); resolves are never held.
    inhibit_tickets_while_paging: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> Notifications:
        for short in ("slack", "pagerduty"):
            if short in self.receivers and (
                self.slack_webhook_url if short == "slack" else self.pagerduty_routing_key
            ):
                raise ValueError(f"receivers.{short}: defined twice (also by the short form)")
        names = set(self.receivers_by_name)
        for i, route in enumerate(self.routes):
            for name in route.receivers:
                if name not in names:
                    raise ValueError(
                        f"routes[{i}].receivers: unknown receiver {name!r}; known: {sorted(names)}"
                    )
        for attr in ("summary_template", "dashboard_url", "runbook_url"):
            _check_template(getattr(self, attr), attr)
        return self

    @cached_property
    def receivers_by_name(self) -> dict[str, Receiver]:
        """Declared receivers plus those of the short form whose secret is set (built once:
        routing asks for them on every alert)."""
        out = dict(self.receivers)
        if self.slack_webhook_url:
            out.setdefault("slack", Receiver(type="slack", webhook_url=self.slack_webhook_url))
        if self.pagerduty_routing_key:
            out.setdefault(
                "pagerduty",
                Receiver(
                    type="pagerduty",
                    routing_key=self.pagerduty_routing_key,
                    events_url=self.pagerduty_events_url,
                ),
            )
        return out


def _check_template(template: str, field: str) -> None:
    sample = {
        k: (1.0 if k in ("long_burn", "short_burn", "threshold", "budget_remaining") else "x")
        for k in SUMMARY_FIELDS
    }
    try:
        text = template.format_map(sample)
    except (KeyError, ValueError, IndexError, AttributeError, TypeError) as e:
        raise ValueError(
            f"{field}: bad placeholder {e}; expected any of {{{'}, {'.join(SUMMARY_FIELDS)}}}"
        ) from None
    if field.endswith("_url"):
        try:
            check_url(text)
        except ValueError as e:
            raise ValueError(f"{field}: {e}") from None
