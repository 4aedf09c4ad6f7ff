#!/usr/bin/env bash
# Quick start: install into .venv, migrate SQLite, create the demo organization and admin,
# then run the web server and a worker together. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
export DEBUG="${DEBUG:-1}"
PORT="${PORT:-8000}"
.venv/bin/python manage.py migrate --no-input
.venv/bin/python manage.py setup_demo
.venv/bin/python manage.py runworker &
WORKER=$!
trap 'kill -TERM $WORKER 2>/dev/null; wait $WORKER 2>/dev/null' EXIT INT TERM
echo "API:   http://127.0.0.1:${PORT}/api/   Admin: http://127.0.0.1:${PORT}/admin/   Health: http://127.0.0.1:${PORT}/health"
.venv/bin/python manage.py runserver "127.0.0.1:${PORT}" --noreload
