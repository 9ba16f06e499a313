"""Every input the coverage-guided fuzzer kept (tests/fuzz_corpus/, scripts/fuzz) replays
through its harness without a finding: the fuzzer's discoveries stay regression tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.harnesses import HARNESSES

CORPUS = Path(__file__).resolve().parents[1] / "fuzz_corpus"
INPUTS = sorted((h, p) for h in HARNESSES for p in (CORPUS / h).glob("*") if p.is_file())


@pytest.mark.parametrize(("harness", "path"), INPUTS, ids=[f"{h}/{p.name[:12]}" for h, p in INPUTS])
def test_a_kept_fuzz_input_replays_cleanly(harness: str, path: Path) -> None:
    HARNESSES[harness](path.read_bytes())


def test_the_corpus_is_kept_for_every_harness() -> None:
    assert {h for h, _ in INPUTS} == set(HARNESSES)
