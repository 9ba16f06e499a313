#!/usr/bin/env python3
"""``python -m fuzz.run HARNESS [libFuzzer flags]``: run one harness under atheris.

The corpus lives in tests/fuzz_corpus/HARNESS (kept: the unit tests replay every file in it);
crashes, hangs (-timeout, seconds) and leaks land in fuzz/findings/ (not kept).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import atheris

# libFuzzer's -merge re-runs this file as a program: the repository must be importable then.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

with atheris.instrument_imports(include=["streams", "fuzz", "yaml"]):
    from fuzz.harnesses import HARNESSES


def main() -> None:
    # libFuzzer re-runs this program for -merge with its own flags only: the harness name
    # travels in the environment.
    name = os.environ.get("SLOBURN_FUZZ_HARNESS")
    if name is None:
        name = os.environ["SLOBURN_FUZZ_HARNESS"] = sys.argv.pop(1)
    flags = sys.argv[1:]
    harness = HARNESSES[name]
    atheris.Setup([sys.argv[0], *flags], harness)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
