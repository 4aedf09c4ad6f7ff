"""Celery, as its documentation sets it up, with the Redis broker: one no-op task that
records its start (bench/peers/record.py). No result backend (Celery's default).

    celery -A celery_app worker            (PYTHONPATH=bench/peers)

The broker is BENCH_CELERY_BROKER (default redis://127.0.0.1:6379/4): the benchmark owns
that Redis database's `bench_celery` queue key and deletes only it between runs."""

import os
import time

from celery import Celery
from record import record

BROKER = os.environ.get("BENCH_CELERY_BROKER", "redis://127.0.0.1:6379/4")
QUEUE = "bench_celery"

app = Celery("bench_peers", broker=BROKER)
# A queue name of our own, so the benchmark never touches another user's keys.
app.conf.task_default_queue = QUEUE
app.conf.broker_connection_retry_on_startup = True  # the default; set to silence its warning


@app.task(name="bench.noop")
def noop(tag: int) -> None:
    record(tag, time.time())
