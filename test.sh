#!/usr/bin/env bash
# Run the whole test suite (SQLite; set DATABASE_URL=postgres://... for PostgreSQL).
# Installs requirements-dev.txt (the service's pins plus the test tools, all hashed) into
# .venv first, unless it has not changed since the last install.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements-dev.txt.sha256
want="$(.venv/bin/python -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' requirements-dev.txt)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
  echo "$want" > "$stamp"
fi
exec .venv/bin/python -m pytest "$@"
