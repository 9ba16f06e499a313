"""Durations as people write them ('5m', '1d') and as Prometheus labels show them."""

from __future__ import annotations


def window_label(seconds: int) -> str:
    """Largest whole unit: 300 -> '5m', 86400 -> '1d', 25 -> '25s'."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
