"""Kafka TLS/SASL settings from the environment: mapped to clients, checked, never leaked."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from streams.config.errors import ConfigError
from streams.config.kafka_security import KafkaSecurity


def test_plaintext_by_default() -> None:
    sec = KafkaSecurity.from_env({})
    assert sec.aiokafka_kwargs() == {"security_protocol": "PLAINTEXT"}
    assert sec.faust_credentials() is None


def test_sasl_ssl_with_a_password_file(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("s3cret-pass\n")
    sec = KafkaSecurity.from_env(
        {
            "SLOBURN_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
            "SLOBURN_KAFKA_SASL_MECHANISM": "scram-sha-512",
            "SLOBURN_KAFKA_SASL_USERNAME": "sloburn",
            "SLOBURN_KAFKA_SASL_PASSWORD_FILE": str(pw),
        }
    )
    kw = sec.aiokafka_kwargs()
    assert (
        kw["security_protocol"],
        kw["sasl_mechanism"],
        kw["sasl_plain_username"],
        kw["sasl_plain_password"],
    ) == ("SASL_SSL", "SCRAM-SHA-512", "sloburn", "s3cret-pass")
    assert isinstance(kw["ssl_context"], ssl.SSLContext)
    assert kw["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert "s3cret" not in repr(sec)
    creds = sec.faust_credentials()
    assert (creds.username, creds.mechanism.value) == ("sloburn", "SCRAM-SHA-512")


def test_every_mistake_is_named_once_and_the_password_never_shown(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        KafkaSecurity.from_env(
            {
                "SLOBURN_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "SLOBURN_KAFKA_SASL_MECHANISM": "GSSAPI",
                "SLOBURN_KAFKA_SASL_PASSWORD": "hunter2-secret",
                "SLOBURN_KAFKA_SSL_CAFILE": str(tmp_path / "missing.pem"),
            }
        )
    assert e.value.lines == [
        "SLOBURN_KAFKA_SASL_MECHANISM: expected one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 "
        "with SASL_PLAINTEXT, got 'GSSAPI'",
        "SLOBURN_KAFKA_SASL_USERNAME and a password (SASL_PASSWORD or SASL_PASSWORD_FILE) are "
        "required with SASL_PLAINTEXT",
        f"SLOBURN_KAFKA_SSL_CAFILE: expected a readable file, got '{tmp_path / 'missing.pem'}'",
    ]
    assert "hunter2" not in str(e.value)


def test_an_unknown_protocol_is_refused() -> None:
    with pytest.raises(ConfigError) as e:
        KafkaSecurity.from_env({"SLOBURN_KAFKA_SECURITY_PROTOCOL": "TLS"})
    assert e.value.lines == [
        "SLOBURN_KAFKA_SECURITY_PROTOCOL: expected one of PLAINTEXT, SSL, SASL_PLAINTEXT, "
        "SASL_SSL, got 'TLS'"
    ]
