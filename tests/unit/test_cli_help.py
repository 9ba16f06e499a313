"""The command line explains itself: every option and argument has help, options show their
defaults, ``--version`` answers, and the completion scripts complete from the real parser."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from streams.cli.completion import commands
from streams.cli.main import main, parser


def test_every_option_and_argument_has_help() -> None:
    missing = [
        f"{path} {a.option_strings or a.dest}"
        for path, p in commands(parser()).items()
        for a in p._actions
        if not isinstance(a, argparse._SubParsersAction | argparse._HelpAction) and not a.help
    ]
    assert missing == []


def test_help_shows_defaults(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SLOBURN_WEB_PORT", raising=False)
    monkeypatch.delenv("SLOBURN_URL", raising=False)
    with pytest.raises(SystemExit):
        main(["worker", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 6066)" in text and "(default: ./data)" in text
    with pytest.raises(SystemExit):
        main(["gate", "--help"])
    assert "http://127.0.0.1:6066" in capsys.readouterr().out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("sloburn ")


def script(shell: str) -> str:
    """What ``sloburn completion SHELL`` prints."""
    cmd = [sys.executable, "-m", "streams.cli", "completion", shell]
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout


def complete(shell: str, line: str) -> list[str]:
    """What the generated script offers for ``line`` (the last word is being typed)."""
    driver = (
        'read -ra COMP_WORDS <<< "$LINE"; [[ $LINE == *" " ]] && COMP_WORDS+=("");'
        ' COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _sloburn; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    out = subprocess.run(
        ["bash", "-c", f"{script(shell)}\n{driver}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"LINE": line, "PATH": "/usr/bin:/bin"},
    ).stdout
    return out.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@pytest.mark.parametrize(
    ("line", "offered"),
    [
        ("sloburn sil", ["silence"]),
        (
            "sloburn silence --url http://127.0.0.1:6066 ",
            ["--help", "--url", "--token", "add", "list", "expire"],
        ),
        ("sloburn silence list --u", ["--url"]),
        ("sloburn worker --loglevel ", ["debug", "info", "warn", "error"]),
        ("sloburn exclude add --kind c", ["correction"]),
        ("sloburn gate --c", ["--critical"]),
    ],
)
def test_bash_completion_follows_the_parser(line: str, offered: list[str]) -> None:
    assert complete("bash", line) == offered


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completes_through_bashcompinit(tmp_path: Path) -> None:
    # As zsh's _bash_complete calls it: sh emulation (0-based arrays), COMP_* set.
    driver = (
        "try() { emulate -L sh; COMP_WORDS=(sloburn silence li); COMP_CWORD=2; _sloburn;"
        ' echo "${COMPREPLY[@]}"; }; try'
    )
    out = subprocess.run(
        ["zsh", "-f", "-c", f"{script('zsh')}\n{driver}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    # zsh's own compgen leaves the prefix filtering to zsh's completion system: what matters
    # is that the words typed were followed to `silence` (0-based arrays under emulation).
    assert set(out.stdout.split()) == {"--help", "--url", "--token", "add", "list", "expire"}
