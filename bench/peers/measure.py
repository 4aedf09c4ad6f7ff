"""Procrastinate and Celery beside ours: the same throughput and pickup measurements as
bench/driver.py makes for ours and django-tasks-db, from the times each peer's no-op task
records itself (record.py). Run in bench/run.py's process (bench/peers on sys.path)."""

import importlib.metadata
import os
import random
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from procs import PYTHON, BenchError, WorkerProcs, start_workers
from record import read_records

PEERS_DIR = Path(__file__).resolve().parent
SEED_BATCH = 1000


class Peer:
    """One peer system: how to reset it, queue jobs and start its worker processes."""

    key: str
    title: str

    def __init__(self, record_path: Path) -> None:
        self.record_path = record_path

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(PYTHONPATH=str(PEERS_DIR), BENCH_RECORD_PATH=str(self.record_path), PYTHONUNBUFFERED="1")
        return env

    def worker_argv(self, index: int) -> list[str]:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def seed(self, tags: range) -> None:
        raise NotImplementedError

    def open(self):  # a context manager around a series of enqueue_one calls
        raise NotImplementedError

    def enqueue_one(self, tag: int) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


class CeleryPeer(Peer):
    key = "celery"

    def __init__(self, record_path: Path) -> None:
        super().__init__(record_path)
        import celery_app

        self.app = celery_app
        self.title = f"Celery {importlib.metadata.version('celery')}"

    def worker_argv(self, index: int) -> list[str]:
        # Its defaults otherwise: prefork pool with concurrency = CPU count, prefetch
        # multiplier 4, acks on receipt (acks_late off), log level WARNING. -n: two workers on
        # one host need distinct node names.
        return [PYTHON, "-m", "celery", "-A", "celery_app", "worker", "-n", f"bench{index}@%h"]

    def reset(self) -> None:
        import redis

        client = redis.Redis.from_url(self.app.BROKER)
        # Only the keys of our queue (never FLUSHDB/FLUSHALL: the server is shared).
        client.delete(self.app.QUEUE, "unacked", "unacked_index", "unacked_mutex")

    def seed(self, tags: range) -> None:
        with self.app.app.producer_or_acquire() as producer:
            for tag in tags:
                self.app.noop.apply_async((tag,), producer=producer)

    def open(self):
        from contextlib import nullcontext

        return nullcontext()

    def enqueue_one(self, tag: int) -> None:
        self.app.noop.delay(tag)

    def describe(self) -> str:
        return (
            f"{self.title} (kombu {importlib.metadata.version('kombu')}), Redis broker "
            f"{self.app.BROKER}, no result backend: `celery -A celery_app worker -n benchK@%h` with its "
            "default options (prefork pool, concurrency = CPU count, prefetch multiplier 4, acks on "
            "receipt, log level WARNING); 2 processes = two such commands (each a parent and its "
            "prefork children). It needs no database: the same Celery figures are measured again "
            "beside each database's rows."
        )


class ProcrastinatePeer(Peer):
    key = "procrastinate"
    tables = ("procrastinate_jobs", "procrastinate_events", "procrastinate_periodic_defers", "procrastinate_workers")

    def __init__(self, record_path: Path, dsn: str) -> None:
        super().__init__(record_path)
        self.dsn = dsn
        os.environ["BENCH_PROCRASTINATE_DSN"] = dsn  # read by procrastinate_app at import
        import procrastinate_app

        self.app = procrastinate_app
        self.title = f"Procrastinate {importlib.metadata.version('procrastinate')}"

    def env(self) -> dict[str, str]:
        return {**super().env(), "BENCH_PROCRASTINATE_DSN": self.dsn}

    def worker_argv(self, index: int) -> list[str]:
        # Its defaults: concurrency 1, LISTEN/NOTIFY plus a 5 s poll, jobs kept after success.
        # --log-level=warning quiets its per-job INFO lines, as LOG_LEVEL=WARNING does ours'.
        return [PYTHON, "-m", "procrastinate", "--app=procrastinate_app.app", "--log-level=warning", "worker"]

    def setup(self) -> None:
        with self.app.app.open():
            self.app.app.schema_manager.apply_schema()

    def _sql(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def reset(self) -> None:
        tables = ", ".join(self.tables)
        self._sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE", f"VACUUM ANALYZE {tables}")

    def seed(self, tags: range) -> None:
        from procrastinate.types import JSONDict

        with self.app.app.open():
            for i in range(0, len(tags), SEED_BATCH):
                batch: list[JSONDict] = [{"tag": t} for t in tags[i : i + SEED_BATCH]]
                self.app.noop.batch_defer(*batch)
        # Statistics as autovacuum keeps them in steady operation (as for ours and django-tasks-db).
        self._sql("ANALYZE procrastinate_jobs")

    def open(self):
        return self.app.app.open()

    def enqueue_one(self, tag: int) -> None:
        self.app.noop.defer(tag=tag)

    def describe(self) -> str:
        return (
            f"{self.title} on PostgreSQL (psycopg {importlib.metadata.version('psycopg')}, its PsycopgConnector): "
            "`python -m procrastinate --app=procrastinate_app.app --log-level=warning worker` with its "
            "default options (concurrency 1, LISTEN/NOTIFY plus a 5 s poll, finished jobs kept, the sync "
            "task run in a thread; --log-level=warning only quiets its per-job INFO lines); 2 processes = "
            "two such commands."
        )


@dataclass
class PeerRun:
    rate: float
    n: int
    duplicates: int


def _start(peer: Peer, processes: int, log_path: Path) -> WorkerProcs:
    started = [start_workers(peer.worker_argv(i), peer.env(), 1, log_path) for i in range(processes)]
    return WorkerProcs(argv=started[0].argv, procs=[p for w in started for p in w.procs], log_path=log_path)


def _wait_records(peer: Peer, workers: WorkerProcs, want: set[int], timeout: float) -> list:
    deadline = time.monotonic() + timeout
    while True:
        records = read_records(str(peer.record_path))
        if want <= {r[0] for r in records}:
            return records
        workers.check_alive()
        if time.monotonic() > deadline:
            missing = len(want - {r[0] for r in records})
            raise BenchError(f"{peer.title}: {missing} of {len(want)} jobs did not run; see {workers.log_path}")
        time.sleep(0.1)


def measure_throughput(peer: Peer, n: int, processes: int, log_dir: Path) -> PeerRun:
    """Queue n jobs, start the workers, wait until every job recorded its run:
    n / (last end − first start)."""
    peer.reset()
    peer.record_path.unlink(missing_ok=True)
    peer.seed(range(n))
    workers = _start(peer, processes, log_dir / f"{peer.key}-{processes}p.log")
    try:
        records = _wait_records(peer, workers, set(range(n)), timeout=max(300, n / 20))
    finally:
        workers.stop()
    first = min(r[1] for r in records)
    last = max(r[2] for r in records)
    return PeerRun(rate=n / (last - first), n=n, duplicates=len(records) - len({r[0] for r in records}))


def measure_latency(peer: Peer, samples: int, log_dir: Path) -> dict:
    """An idle running worker; jobs queued one at a time 50–100 ms apart (the same spacing
    sequence as bench/driver.py); the task's recorded start − time.time() before the enqueue."""
    peer.reset()
    peer.record_path.unlink(missing_ok=True)
    workers = _start(peer, 1, log_dir / f"{peer.key}-latency.log")
    try:
        with peer.open():
            warm = -1
            peer.enqueue_one(warm)  # the worker has taken a job: it is up and idle
            _wait_records(peer, workers, {warm}, timeout=60)
            time.sleep(0.5)
            rng = random.Random(3)
            enqueued: dict[int, float] = {}
            for tag in range(samples):
                t0 = time.time()
                peer.enqueue_one(tag)
                enqueued[tag] = t0
                time.sleep(rng.uniform(0.05, 0.1))
        records = _wait_records(peer, workers, set(enqueued), timeout=60)
    finally:
        workers.stop()
    started = {r[0]: r[1] for r in records}
    lat_ms = sorted((started[tag] - t0) * 1000 for tag, t0 in enqueued.items())
    q = statistics.quantiles(lat_ms, n=100, method="inclusive")
    return {"samples": len(lat_ms), "p50": statistics.median(lat_ms), "p95": q[94]}
