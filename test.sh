#!/usr/bin/env bash
# Run the whole test suite (SQLite; set DATABASE_URL=postgres://... for PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
exec .venv/bin/python -m pytest "$@"
