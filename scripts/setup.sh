#!/usr/bin/env bash
# Set up a fresh machine of this kind: Python 3.10 venv in .venv and the project installed.
# Idempotent: re-runs only the steps whose inputs changed (stamp files in .venv/).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

find_python310() {
  for candidate in "${PYTHON310:-}" "$(command -v python3.10 || true)" \
                   "$HOME/.pyenv/versions/3.10.13/bin/python" /root/.pyenv/versions/3.10.13/bin/python; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

if [ ! -x .venv/bin/python ]; then
  step "[1/3] creating .venv with Python 3.10 (Rasa 3.6 does not run on 3.11)"
  PY=$(find_python310) || { echo "Python 3.10 not found: install it (pyenv install 3.10.13) or set PYTHON310" >&2; exit 1; }
  "$PY" -m venv .venv
else
  step "[1/3] .venv present ($(.venv/bin/python --version))"
fi

STAMP=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
  step "[2/3] installing madoguchi and its dependencies (a few minutes on a fresh machine)"
  .venv/bin/python -m pip install --progress-bar on -q --upgrade "pip<25" >/dev/null
  .venv/bin/python -m pip install --progress-bar on -e '.[test]'
  rm -f .venv/.installed-* && touch "$STAMP"
else
  step "[2/3] Python packages up to date"
fi

step "[3/3] system packages: none needed yet"
