"""A careless or hostile config: `sloburn validate` answers quickly with one line per problem
(file, field path, what was expected), never a traceback, never a hang."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from streams.config.loading import load_config
from tests.conftest import sloburn

SERVICE = "services:\n  checkout-api:\n    sli_type: success_rate\n    target: 0.999\n"
SERVICE += "    window_days: 30\n"


def billion_laughs(levels: int) -> str:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for i in range(1, levels):
        prev, cur = chr(96 + i), chr(97 + i)
        text += f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]\n"
    return text


def validate(path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # The timeout only guards against a hang; the limits answer in well under a second.
    return sloburn("validate", str(path), timeout=20, env={**os.environ, **(env or {})})


def refused(proc: subprocess.CompletedProcess[str]) -> list[str]:
    assert proc.returncode == 1, proc
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert all(line.startswith("config error: ") for line in lines), lines
    return lines


@pytest.mark.parametrize("levels", [7, 9])
def test_yaml_entity_expansion_is_refused_before_it_expands(tmp_path: Path, levels: int) -> None:
    path = tmp_path / "lol.yaml"
    path.write_text(billion_laughs(levels))
    [line] = refused(validate(path))
    assert line.endswith("invalid YAML: more than 250000 nodes once its aliases are expanded")
    assert f"{path}: line " in line


@pytest.mark.parametrize(
    "text",
    ["a: " + "[" * 5000 + "]" * 5000, "".join("  " * i + f"k{i}:\n" for i in range(300))],
    ids=["flow", "block"],
)
def test_deeply_nested_yaml_is_one_line_not_a_traceback(tmp_path: Path, text: str) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    [line] = refused(validate(path))
    assert "invalid YAML" in line and "nest" in line


def test_a_yaml_alias_of_its_own_container_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cycle.yaml"
    path.write_text(SERVICE + "x: &x [*x]\n")
    [line] = refused(validate(path))
    assert line.endswith("invalid YAML: alias *x refers to a node that holds it (a cycle)")


def receiver(key_file: str) -> str:
    return (
        SERVICE
        + "notifications:\n  receivers:\n    pd:\n      type: pagerduty\n"
        + f"      routing_key_file: {key_file}\n"
    )


def test_a_secret_file_that_is_a_device_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "slo.yaml"
    path.write_text(receiver("/dev/zero"))
    [line] = refused(validate(path))
    assert line.endswith(
        "routing_key_file: cannot read /dev/zero: expected a regular file, got a character device"
    )


def test_a_fifo_as_config_or_as_secret_file_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    [line] = refused(validate(fifo))
    assert line == f"config error: {fifo}: cannot read file: expected a regular file, got a FIFO"
    path = tmp_path / "slo.yaml"
    path.write_text(receiver(str(fifo)))
    [line] = refused(validate(path))
    assert line.endswith(f"cannot read {fifo}: expected a regular file, got a FIFO")


def test_an_oversized_config_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (4 * 2**20 + 1))
    [line] = refused(validate(path))
    assert line.endswith(f"cannot read file: {4 * 2**20 + 1} bytes, expected at most {4 * 2**20}")


def test_an_unclosed_env_reference_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "slo.yaml"
    path.write_text(SERVICE + "notifications:\n  pagerduty_routing_key: ${UNDEFINED\n")
    [line] = refused(validate(path))
    assert line == (
        f"config error: {path}: notifications.pagerduty_routing_key: malformed ${{...}} reference "
        "in '${UNDEFINED'; expected ${NAME} or ${NAME:-default} (NAME: letters, digits, _; "
        "closed by })"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pagerduty_events_url", "not a url"),
        ("pagerduty_events_url", "ftp://events.example/v2"),
        ("dashboard_url", "grafana/d/{slo}"),
    ],
)
def test_a_url_field_that_is_not_an_http_url_is_an_error(
    tmp_path: Path, field: str, value: str
) -> None:
    path = tmp_path / "slo.yaml"
    path.write_text(SERVICE + f"notifications:\n  {field}: '{value}'\n")
    [line] = refused(validate(path))
    assert f"notifications.{field}: " in line or f"notifications: {field}: " in line
    assert "expected an absolute http:// or https:// URL with a host" in line


def test_a_secret_url_that_is_not_a_url_is_an_error_that_does_not_show_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "slo.yaml"
    path.write_text(SERVICE + "notifications:\n  slack_webhook_url: ${HOOK}\n")
    [line] = refused(validate(path, {"HOOK": "s3cr3t-not-a-url"}))
    assert "got (not shown: a secret)" in line and "s3cr3t" not in line


@pytest.mark.parametrize(
    ("mode", "warned"),
    [
        (0o600, []),
        (0o640, ["is accessible to group (mode 0640); expected 0600 or 0400"]),
        (0o644, ["is accessible to group and others (mode 0644); expected 0600 or 0400"]),
        (0o000, ["is readable only because the worker runs as root (owner uid 0, mode 0000)"]),
    ],
)
def test_secret_file_permissions_are_warned_about(
    tmp_path: Path, mode: int, warned: list[str]
) -> None:
    if os.geteuid() != 0 and mode == 0:
        pytest.skip("a mode-0000 file is unreadable unless the tests run as root")
    key = tmp_path / "key"
    key.write_text("routing-key-1\n")
    key.chmod(mode)
    path = tmp_path / "slo.yaml"
    path.write_text(receiver(str(key)))
    cfg = load_config([path], env={})
    assert cfg.notifications.receivers["pd"].routing_key == "routing-key-1"
    found = [w for w in cfg.warnings if "routing_key_file" in w]
    assert len(found) == len(warned)
    for w, expected in zip(found, warned, strict=True):
        assert w.startswith(f"{path}: notifications.receivers.pd.routing_key_file: {key} ")
        assert expected in w
