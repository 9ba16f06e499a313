"""A value as a short repr for error messages about input we did not write."""

from __future__ import annotations

import reprlib
from typing import Any

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxtuple = 3, 4, 4, 4
_REPR.maxstring, _REPR.maxlong, _REPR.maxother = 60, 40, 60


def brief(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to about ``limit`` characters, built without walking all of it: a
    500 KB array or a list nested 1000 deep in an outcome field must not become a 500 KB
    error message, nor a RecursionError."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
