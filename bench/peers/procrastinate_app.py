"""Procrastinate on PostgreSQL, as its documentation sets it up: a PsycopgConnector and
one no-op (sync) task that records its start (bench/peers/record.py).

    python -m procrastinate --app=procrastinate_app.app worker     (PYTHONPATH=bench/peers)

The database is BENCH_PROCRASTINATE_DSN (created and dropped by bench/run.py)."""

import os
import time

from procrastinate import App, PsycopgConnector
from record import record

app = App(connector=PsycopgConnector(conninfo=os.environ.get("BENCH_PROCRASTINATE_DSN", "")))


@app.task(name="bench.noop")
def noop(tag: int) -> None:
    record(tag, time.time())
