"""Kafka TLS and SASL settings for production brokers, from the environment.

| variable | meaning |
|---|---|
| SLOBURN_KAFKA_SECURITY_PROTOCOL | PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL |
| SLOBURN_KAFKA_SASL_MECHANISM | PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (SASL_* only) |
| SLOBURN_KAFKA_SASL_USERNAME | SASL user |
| SLOBURN_KAFKA_SASL_PASSWORD / SLOBURN_KAFKA_SASL_PASSWORD_FILE | SASL password, or a file |
| SLOBURN_KAFKA_SSL_CAFILE | CA bundle to verify the brokers (default: system CAs) |
| SLOBURN_KAFKA_SSL_CERTFILE / SLOBURN_KAFKA_SSL_KEYFILE | client certificate (mutual TLS) |

The password is never part of a repr, a log line or an error message.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust

from streams.config.errors import ConfigError

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
PREFIX = "SLOBURN_KAFKA_"


@dataclass(frozen=True)
class KafkaSecurity:
    """How clients authenticate to and encrypt traffic with the brokers."""

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KafkaSecurity:
        """Read SLOBURN_KAFKA_*; ConfigError names each variable that is wrong and why."""

        def get(name: str) -> str | None:
            return env.get(PREFIX + name) or None

        errors = []
        protocol = (get("SECURITY_PROTOCOL") or "PLAINTEXT").upper()
        if protocol not in PROTOCOLS:
            errors.append(
                f"{PREFIX}SECURITY_PROTOCOL: expected one of {', '.join(PROTOCOLS)}, "
                f"got {protocol!r}"
            )
        password = get("SASL_PASSWORD")
        password_file = get("SASL_PASSWORD_FILE")
        if password is None and password_file is not None:
            try:
                password = Path(password_file).read_text(encoding="utf-8").strip()
            except OSError as e:
                errors.append(
                    f"{PREFIX}SASL_PASSWORD_FILE: cannot read {password_file!r} ({e.strerror or e})"
                )
        mechanism = get("SASL_MECHANISM")
        if protocol.startswith("SASL_"):
            if (mechanism or "").upper() not in MECHANISMS:
                errors.append(
                    f"{PREFIX}SASL_MECHANISM: expected one of {', '.join(MECHANISMS)} "
                    f"with {protocol}, got {mechanism!r}"
                )
            if not get("SASL_USERNAME") or not password:
                errors.append(
                    f"{PREFIX}SASL_USERNAME and a password (SASL_PASSWORD or "
                    f"SASL_PASSWORD_FILE) are required with {protocol}"
                )
        for name in ("SSL_CAFILE", "SSL_CERTFILE", "SSL_KEYFILE"):
            path = get(name)
            if path is not None and not Path(path).is_file():
                errors.append(f"{PREFIX}{name}: expected a readable file, got {path!r}")
        if errors:
            raise ConfigError(errors)
        return cls(
            protocol=protocol,
            sasl_mechanism=mechanism.upper() if mechanism else None,
            username=get("SASL_USERNAME"),
            password=password,
            cafile=get("SSL_CAFILE"),
            certfile=get("SSL_CERTFILE"),
            keyfile=get("SSL_KEYFILE"),
        )

    @property
    def uses_tls(self) -> bool:
        """Whether traffic to the brokers is encrypted."""
        return self.protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        """A verifying client context (system CAs unless a CA file is given), or None."""
        if not self.uses_tls:
            return None
        ctx = ssl.create_default_context(cafile=self.cafile)
        if self.certfile:
            ctx.load_cert_chain(self.certfile, self.keyfile)
        return ctx

    def aiokafka_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka clients (producer, consumer, admin)."""
        out: dict[str, Any] = {"security_protocol": self.protocol}
        if self.uses_tls:
            out["ssl_context"] = self.ssl_context()
        if self.protocol.startswith("SASL_"):
            out.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.username,
                sasl_plain_password=self.password,
            )
        return out

    def faust_credentials(self) -> Any:
        """The worker's ``broker_credentials`` (None for plaintext)."""
        if self.protocol.startswith("SASL_"):
            return faust.SASLCredentials(
                username=self.username,
                password=self.password,
                ssl_context=self.ssl_context(),
                mechanism=self.sasl_mechanism,
            )
        if self.uses_tls:
            return faust.SSLCredentials(self.ssl_context())
        return None
