"""Short per-key histories kept in changelog tables, for the detail page: an SLO's alert
timeline (what fired and resolved, and whether a silence or a page held it back) and a
service's gate history (decisions and overrides). Bounded, so a flapping rule cannot grow a
table value without end; the audit topic keeps everything."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

ENTRIES_MAX = 500  # per key: months of a busy SLO's alerts; one table value stays < 100 KiB


def timeline_key(slo_id: str) -> str:
    """The alert-state table's key of an SLO's alert timeline (rule names cannot start
    with ~, so it never meets a rule's state)."""
    return f"{slo_id}|~timeline"


def gate_history_key(service: str) -> str:
    """The gate-state table's key of a service's decisions and overrides."""
    return f"{service}|history"


def append(table: MutableMapping[str, Any], key: str, entry: dict[str, Any]) -> None:
    """Add ``entry`` to the history at ``key``, oldest dropped past ENTRIES_MAX; an entry
    already there (a redelivered alert event, the same ``id``) is not added twice."""
    entries = list(table.get(key) or ())
    if "id" in entry and any(e.get("id") == entry["id"] for e in entries[-20:]):
        return
    entries.append(entry)
    table[key] = entries[-ENTRIES_MAX:]
