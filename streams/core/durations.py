"""Durations as people write them ('5m', '1d') and as Prometheus labels show them."""

from __future__ import annotations


def window_label(seconds: int) -> str:
    """Largest whole unit: 300 -> '5m', 86400 -> '1d', 25 -> '25s'."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
PATTERN = "^([0-9]+|[1-9][0-9]*[smhdw])$"  # what parse_duration_s reads, unpadded (OpenAPI)


def parse_duration_s(text: str) -> int:
    """'90s', '30m', '2h', '1d', '1w' (or bare seconds) -> seconds; ValueError otherwise."""
    t = text.strip()
    if not t.isascii():
        raise ValueError(f"bad duration {text!r}: expected e.g. 90s, 30m, 2h, 1d")
    if t.isdigit():
        return int(t)
    if len(t) > 1 and t[:-1].isdigit() and t[-1] in UNITS and int(t[:-1]) > 0:
        return int(t[:-1]) * UNITS[t[-1]]
    raise ValueError(f"bad duration {text!r}: expected e.g. 90s, 30m, 2h, 1d")
