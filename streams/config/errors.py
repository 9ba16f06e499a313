"""How a configuration problem reaches the user: one line ``FILE: field.path: expectation,
got VALUE`` each, never a traceback."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from streams.core.brief import brief


class ConfigError(Exception):
    """A configuration that cannot run; ``lines`` are user-facing, one problem each."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def _fmt_loc(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def describe(err: Mapping[str, Any]) -> str:
    """One pydantic error as 'path: expectation, got value'."""
    loc = _fmt_loc(err["loc"])
    kind = err["type"]
    if kind == "missing":
        return f"{loc}: required field is missing"
    if kind == "extra_forbidden":
        return f"{loc}: unknown field (not part of the format; check the spelling)"
    msg = str(err["msg"])
    msg = msg.removeprefix("Value error, ")
    msg = msg.replace("Input should be", "expected")
    msg = msg[0].lower() + msg[1:]
    if isinstance(err.get("input"), dict) or ", got " in msg:  # the message says it all
        return f"{loc}: {msg}"
    return f"{loc}: {msg}, got {brief(err.get('input'))}"
