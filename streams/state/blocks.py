"""The values of the bucket store's mapping: hour and day blocks of packed (bad, total) cells,
their keys, their changelog encoding, and the arithmetic on them (no mapping, no I/O).

Cells are packed pairs in ``array``: a Python dict of cells cost ~220 bytes per cell and made
an SLO weigh 5.5 MiB after 30 days; packed, it is a few hundred KiB at most, whatever the
traffic. Base cells take 4 bytes while they fit (a day of them is most of an SLO's memory).

Two kinds of values:

* an **hour block** (key ``"<slo>|<hour start>"``), for the recent hours a short window can
  reach: ``c`` base cells (``bucket_seconds``, default 10 s), ``r`` 15-minute roll-up cells,
  ``s`` the hour's sum (a long range adds hours, not cells), and for timeslice SLOs ``sv`` (bad
  slices), ``rb``/``sb`` (bad-slice counts per roll-up cell and per hour, as [n, 0] pairs);
* a **day block** (key ``"<slo>|d<day start>"``), where compaction moves an hour once no
  base-resolution window can reach it: only its roll-up cells (``r``, ``rb``) survive, and
  ``k`` marks which hours of the day were moved in. 15 minutes because every time zone in use
  today is offset from UTC by a multiple of it, so calendar periods start on a cell.

Both carry ``m``, the newest event time applied; ``a``, the last applied source offset per
source partition, stored in the same record as the counts so a redelivered update is
recognised and skipped; and ``i``, the broker incarnation those offsets belong to (see
streams.kafka.broker_watch): offsets of a broker that lost its data say nothing about the new one's.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from typing import Any

import orjson

BLOCK_S = 3600
ROLLUP_S = 900
DAY_S = 86400
PACKED = ("c", "r", "rb")  # the fields holding packed (bad, total) pairs
INT32_MAX = 2**31 - 1

Block = dict[str, Any]
Change = tuple[int, int, int]  # (base bucket start, bad added, total added)


def floor_to(ts: float, step: int) -> int:
    """Start of the step-aligned interval (unix seconds) holding ts."""
    return int(ts // step) * step


def block_key(slo_id: str, block_start: int) -> str:
    """Table key of one hour of one SLO."""
    return f"{slo_id}|{block_start}"


def day_key(slo_id: str, day_start: int) -> str:
    """Table key of the compacted hours of one UTC day of one SLO."""
    return f"{slo_id}|d{day_start}"


def owner_of_key(key: str) -> str:
    """What a table key's partition follows: its first field (an SLO id or a service name)."""
    return key.split("|", 1)[0]


def encode_block(block: Block) -> bytes:
    """A block as JSON for its changelog record (packed cells as plain integer lists)."""
    return orjson.dumps({k: v.tolist() if k in PACKED else v for k, v in block.items()})


def decode_block(data: bytes) -> Block:
    """The block ``encode_block`` wrote, cells packed again."""
    raw: Block = orjson.loads(data)
    for k in PACKED:
        if k in raw:
            raw[k] = packed(raw[k]) if k == "c" else array("q", raw[k])
    return raw


def pairs(n: int) -> array[int]:
    return array("q", bytes(16 * n))


def packed(values: list[int]) -> array[int]:
    """Base cells in 4 bytes each while they fit (a day of them is most of an SLO's memory);
    8 bytes for an hour with a 10-s cell past 2^31 requests."""
    try:
        return array("i", values)
    except OverflowError:
        return array("q", values)


def sum_pairs(cells: array[int], i: int, j: int) -> tuple[int, int]:
    """Sum of the pairs i..j (inclusive)."""
    return sum(cells[2 * i : 2 * j + 2 : 2]), sum(cells[2 * i + 1 : 2 * j + 2 : 2])


def new_hour(bucket_s: int, incarnation: str) -> Block:
    return {
        "c": array("i", bytes(8 * (BLOCK_S // bucket_s))),
        "r": pairs(BLOCK_S // ROLLUP_S),
        "s": [0, 0],
        "m": 0.0,
        "a": {},
        "i": incarnation,
    }


def new_day(incarnation: str) -> Block:
    return {"r": pairs(DAY_S // ROLLUP_S), "k": 0, "m": 0.0, "a": {}, "i": incarnation}


def hour_bit(hour_start: int) -> int:
    return 1 << (hour_start % DAY_S // BLOCK_S)


def add_counts(
    block: Block, block_start: int, bucket_s: int, counts: Mapping[int, tuple[int, int]]
) -> None:
    base, rollups, s = block.get("c"), block["r"], block.get("s")
    for start, (bad, total) in counts.items():
        off = start - block_start
        if base is not None:
            i = 2 * (off // bucket_s)
            if base[i + 1] + total > INT32_MAX and base.typecode == "i":  # bad <= total
                base = block["c"] = array("q", base)
            base[i] += bad
            base[i + 1] += total
        j = 2 * (off // ROLLUP_S)
        rollups[j] += bad
        rollups[j + 1] += total
        if s is not None:
            s[0] += bad
            s[1] += total


def move_hour(hour: Block, hour_start: int, day: Block) -> None:
    """Fold an hour block's roll-ups, newest time and offset marks into its day block.

    The day keeps, per source partition, the newest mark of its hours: offsets are applied in
    order, so a message at or below it was applied to every hour it touched. (The one
    exception, a crash between two block writes of one batch, is re-read within seconds of the
    restart, long before its hours are this old.)
    """
    i = 2 * (hour_start % DAY_S // ROLLUP_S)
    for field in ("r", "rb"):
        if field in hour:
            cells = day.get(field)
            if cells is None:
                cells = day[field] = pairs(DAY_S // ROLLUP_S)
            for k, v in enumerate(hour[field]):
                cells[i + k] += v
    day["k"] |= hour_bit(hour_start)
    day["m"] = max(day["m"], hour["m"])
    if hour.get("i", "") != day.get("i", ""):
        day["a"], day["i"] = {}, hour.get("i", "")
    marks = day["a"]
    for part, offset in hour["a"].items():
        marks[part] = max(marks.get(part, -1), offset)
