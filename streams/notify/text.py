"""Text limits of the receivers: a message over a limit is rejected whole, so cut it first."""

from __future__ import annotations


def cut(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
