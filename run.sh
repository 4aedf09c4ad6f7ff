#!/usr/bin/env bash
# Quick start: install into .venv, migrate SQLite, create the demo organization and admin,
# then run the web server and a worker together. Ctrl-C stops both gracefully: the worker
# finishes (or hands back) the job it is running, and run.sh exits 0. A second Ctrl-C stops
# the worker at once (its jobs are requeued when their leases expire).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# Reinstall only when requirements.txt changed since the last install (SKIP_INSTALL=1: never,
# for a .venv you manage yourself).
stamp=.venv/.requirements.txt.sha256
want="$(.venv/bin/python -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' requirements.txt)"
if [ "${SKIP_INSTALL:-0}" != 1 ] && [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements.txt
  echo "$want" > "$stamp"
fi
export DEBUG="${DEBUG:-1}"
# Email goes to the mailbox in the admin unless a mail server is configured (README, "Email").
if [ -z "${EMAIL_BACKEND:-}" ] && [ -z "${EMAIL_HOST:-}" ]; then
  export EMAIL_BACKEND=notifications.mailbox.MailboxBackend
fi
PORT="${PORT:-8000}"
# Unsubscribe links in the demo's emails point at this server.
export SITE_URL="${SITE_URL:-http://127.0.0.1:${PORT}}"
.venv/bin/python manage.py migrate --no-input
.venv/bin/python manage.py setup_demo

# Job control puts each child in a process group of its own, so Ctrl-C (SIGINT to the
# terminal's foreground group) reaches only this script, which then signals each child
# exactly once: a worker that got the terminal's SIGINT and then ours would take the second
# signal as "exit now" and drop its running job.
set -m
.venv/bin/python manage.py runworker &
WORKER=$!
.venv/bin/python manage.py runserver "127.0.0.1:${PORT}" --noreload &
WEB=$!
set +m

signals=0
stop() {
  signals=$((signals + 1))
  if [ "$signals" = 1 ]; then
    echo "Stopping: the worker finishes its running jobs (up to ${JOBS_GRACE_PERIOD:-25} s); Ctrl-C again to stop now."
    kill -INT "$WEB" 2>/dev/null || true
  fi
  kill -TERM "$WORKER" 2>/dev/null || true
}
trap stop INT TERM

echo "Home:  http://127.0.0.1:${PORT}/   API: http://127.0.0.1:${PORT}/api/   Admin: http://127.0.0.1:${PORT}/admin/   Health: http://127.0.0.1:${PORT}/health"
if [ "${EMAIL_BACKEND:-}" = notifications.mailbox.MailboxBackend ]; then
  echo "Email: kept in the admin's mailbox (Notifications → Mailbox); set EMAIL_HOST to send through an SMTP server."
fi

# Wait until a signal arrives or either process ends on its own (`wait` returns early when
# a trapped signal arrives; the short sleeps keep this working on bash 3.2 too).
while [ "$signals" = 0 ] && kill -0 "$WEB" 2>/dev/null && kill -0 "$WORKER" 2>/dev/null; do
  sleep 1 &
  wait $! 2>/dev/null || true
done
if [ "$signals" = 0 ]; then
  # One of them stopped by itself (a port in use, a crash): stop the other, report failure.
  echo "run.sh: the web server or the worker stopped; stopping the other." >&2
  kill -INT "$WEB" 2>/dev/null || true
  kill -TERM "$WORKER" 2>/dev/null || true
fi
# `wait` also returns when a signal interrupts it; only a process that is gone has exited.
wait_for() {
  local rc
  while :; do
    rc=0
    wait "$1" 2>/dev/null || rc=$?
    if ! kill -0 "$1" 2>/dev/null; then
      return "$rc"
    fi
  done
}
status=0
wait_for "$WORKER" || status=$?
wait_for "$WEB" || true  # the development server's exit code after SIGINT is not ours
if [ "$signals" = 0 ]; then
  exit 1
fi
exit "$status"
