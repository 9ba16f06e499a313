"""``python -m bench.peak OUT MODULE [ARGS...]``: run MODULE as ``python -m`` would, then write
this process's own peak resident memory (KiB) to OUT.

The rusage peak cannot say it: at exec Linux keeps the high-water mark of the address space
being replaced, which a forked child shares with its parent, so a replay started by a bench
process holding 1.3 GiB reported 1,319 MiB while the replay alone peaks near 40. ``VmHWM`` in
/proc/self/status belongs to the address space exec made fresh.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path


def own_peak_kib() -> int:
    """This process's peak resident set (KiB), from its own address space."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def main() -> None:
    out, module, *args = sys.argv[1:]
    sys.argv = [module, *args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        Path(out).write_text(str(own_peak_kib()))


if __name__ == "__main__":
    main()
