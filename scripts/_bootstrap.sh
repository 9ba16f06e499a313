# Sourced by scripts/run and scripts/test: find Python 3.11+, create .venv if missing, and
# (re)install the project with its dev extras whenever pyproject.toml changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY=""
for cand in python3.13 python3.12 python3.11 python3 python; do
  if command -v "$cand" >/dev/null 2>&1 &&
     "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    PY="$cand"; break
  fi
done
if [ -z "$PY" ]; then
  echo "sloburn needs Python 3.11 or newer with pip and venv; none found on PATH" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $("$PY" --version)" >&2
  "$PY" -m venv .venv
fi
STAMP=.venv/.sloburn-installed
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  echo "installing sloburn and its dependencies into .venv" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
  touch "$STAMP"
fi
export PATH="$ROOT/.venv/bin:$PATH"
