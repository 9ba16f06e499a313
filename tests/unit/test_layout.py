"""The layout stays as README "Layout" draws it: layers import only downward (import-linter,
also run by scripts/test), and no module or function grows past what a reader takes in."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
MODULE_MAX_LINES = 400
FUNCTION_MAX_LINES = 60
# Declarative tables, allowed to be long: one metric declaration after another.
DECLARATIVE = {"streams/runtime/metrics.py:Metrics.__init__"}


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_import_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_core_module_importing_the_runtime_breaks_the_layers_contract(tmp_path: Path) -> None:
    shutil.copytree(
        ROOT / "streams", tmp_path / "streams", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    math = tmp_path / "streams" / "core" / "slo_math.py"
    math.write_text(math.read_text() + "\nfrom streams.runtime.wiring import Wiring  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Layers only import downward BROKEN" in result.stdout
    assert "streams.core.slo_math -> streams.runtime.wiring" in result.stdout


def _functions(tree: ast.AST, prefix: str = "") -> list[tuple[str, ast.AST]]:
    out = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.ClassDef):
            out += _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.append((f"{prefix}{node.name}", node))
            out += _functions(node, f"{prefix}{node.name}.")
    return out


def test_no_module_over_400_lines_and_no_function_over_60() -> None:
    too_long = []
    for path in sorted((ROOT / "streams").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        text = path.read_text()
        if text.count("\n") > MODULE_MAX_LINES:
            too_long.append(f"{rel}: {text.count(chr(10))} lines")
        for name, node in _functions(ast.parse(text)):
            n = node.end_lineno - node.lineno + 1  # type: ignore[attr-defined]
            if n > FUNCTION_MAX_LINES and f"{rel}:{name}" not in DECLARATIVE:
                too_long.append(f"{rel}:{name}: {n} lines")
    assert too_long == []
