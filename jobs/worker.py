"""The worker: claims due jobs, runs their handlers on a thread pool, records outcomes.

`manage.py runworker` parses options and calls `Worker(...).run()`. The main thread owns
every job-state write after the claim (batched per loop); handler threads only run code
and report. Leases are renewed by the main thread while a job runs; a worker that dies
stops renewing, and any other worker requeues its jobs once the lease expires.
"""

import json
import logging
import os
import queue
import signal
import socket
import threading
import time
import traceback as tb
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    connections,
    reset_queries,
)
from django.utils import timezone

from jobs.claim import claim_jobs
from jobs.context import ClaimedJob, JobContext
from jobs.errors import JobAborted, PermanentJobError, RetryJobAfter
from jobs.models import AttemptOutcome, WorkerHeartbeat
from jobs.periodic import run_periodic
from jobs.registry import get_job_type
from jobs.retry import RetryPolicy
from jobs.services import NOTIFY_CHANNEL
from jobs.transitions import AttemptResult, hand_back, record_attempts, release_expired_leases, renew_leases

logger = logging.getLogger("jobs.worker")

# Extra time a handler gets past its timeout to notice it at a progress check before the
# worker gives up on it and counts the attempt as timed out.
TIMEOUT_SLACK_SECONDS = 1.0


@dataclass(eq=False)
class Flight:
    """A claimed job from the moment it is claimed until its outcome is recorded."""

    ctx: JobContext
    timeout: float
    started: float | None = None  # time.monotonic() when a thread began running it
    thread: threading.Thread | None = None


@dataclass
class _Stats:
    done: int = 0
    failed: int = 0
    last_heartbeat: float = field(default=0.0)


class Worker:
    def __init__(
        self,
        *,
        concurrency: int = 4,
        job_types: list[str] | None = None,
        poll_interval: float = 1.0,
        lease_seconds: float = 60.0,
        grace_period: float = 25.0,
        burst: bool = False,
        retry_policy: RetryPolicy | None = None,
        worker_id: str | None = None,
        listen: bool = True,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency
        self.job_types = job_types or None
        self.poll_interval = poll_interval
        self.lease_seconds = lease_seconds
        self.grace_period = grace_period
        self.burst = burst
        self.retry_policy = retry_policy or RetryPolicy.from_settings()
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
        self.heartbeat_interval = max(0.2, min(lease_seconds / 4, 10.0))
        self.listen = listen

        self._events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._tasks: queue.Queue[Flight | None] = queue.Queue()
        self._in_flight: dict[str, Flight] = {}
        self._threads: list[threading.Thread] = []
        self._retired: set[int] = set()
        self._signals = 0
        self._stop_listening = threading.Event()
        self._stats = _Stats()
        self._started_at = timezone.now()

    # --- lifecycle -----------------------------------------------------------------------

    def run(self) -> int:
        """Run until a signal (or, with burst, until nothing is due). Returns the exit code."""
        previous = self._install_signal_handlers()
        try:
            self._wait_for_database()
            self._heartbeat(force=True)
            logger.info(
                "worker started",
                extra={
                    "worker": self.worker_id,
                    "concurrency": self.concurrency,
                    "job_types": ",".join(self.job_types or ["*"]),
                    "vendor": connection.vendor,
                },
            )
            for _ in range(self.concurrency):
                self._start_thread()
            if self.listen and connection.vendor == "postgresql":
                threading.Thread(target=self._listen, name="jobs-listen", daemon=True).start()
            self._loop()
            self._shutdown()
            return 0
        finally:
            self._stop_listening.set()
            for _ in self._threads:
                self._tasks.put(None)
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def request_shutdown(self) -> None:
        self._signals = max(self._signals, 1)

    @property
    def stopping(self) -> bool:
        return self._signals > 0

    def _install_signal_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.getsignal(sig)
            signal.signal(sig, self._on_signal)
        return previous

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Only flags here: the main loop notices within one poll interval.
        self._signals += 1
        if self._signals == 1:
            logger.info(
                "worker stopping: finishing jobs in hand",
                extra={
                    "worker": self.worker_id,
                    "signal": signal.Signals(signum).name,
                    "grace_period": self.grace_period,
                },
            )
        else:
            logger.warning(
                "worker exiting now (second signal); leases will requeue its jobs", extra={"worker": self.worker_id}
            )
            logging.shutdown()
            os._exit(1)

    # --- main loop -----------------------------------------------------------------------

    def _loop(self) -> None:
        db_failures = 0
        while not self.stopping:
            try:
                claimed = self._tick()
                db_failures = 0
            except (OperationalError, InterfaceError, DatabaseError) as exc:
                db_failures += 1
                delay = min(30.0, 0.5 * 2 ** min(db_failures, 6))
                logger.warning(
                    "database unavailable; retrying",
                    extra={"worker": self.worker_id, "error": str(exc).strip()[:200], "retry_in_s": delay},
                )
                self._close_connection()
                self._sleep(delay)
                continue
            if self.burst and not claimed and not self._in_flight and self._events.empty():
                logger.info("burst: nothing due; exiting", extra={"worker": self.worker_id})
                return
            free = self.concurrency - len(self._in_flight)
            # Claimed a full batch: more may be due, loop again once a slot frees up.
            self._wait(timeout=self.poll_interval if (free > 0 and not claimed) or free == 0 else 0.0)

    def _tick(self) -> int:
        reset_queries()
        self._collect()
        self._heartbeat()
        self._enforce_timeouts()
        free = self.concurrency - len(self._in_flight)
        if free <= 0 or self.stopping:
            return 0
        jobs = claim_jobs(
            worker_id=self.worker_id, limit=free, lease_seconds=self.lease_seconds, job_types=self.job_types
        )
        for job in jobs:
            self._dispatch(job)
        return len(jobs)

    def _dispatch(self, job: ClaimedJob) -> None:
        spec = get_job_type(job.job_type)
        timeout = spec.timeout if spec else 60.0
        ctx = JobContext(job=job, payload=job.payload, deadline=float("inf"))
        flight = Flight(ctx=ctx, timeout=timeout)
        self._in_flight[job.id] = flight
        logger.info(
            "job started",
            extra={
                "job_id": job.id,
                "job_type": job.job_type,
                "attempt": job.attempt,
                "outcome": "processing",
                "worker": self.worker_id,
            },
        )
        self._tasks.put(flight)

    def _wait(self, timeout: float) -> None:
        try:
            kind, item = self._events.get(timeout=timeout) if timeout > 0 else self._events.get_nowait()
        except queue.Empty:
            return
        self._events.put((kind, item))  # _collect handles it with the rest of the batch

    def _collect(self) -> None:
        """Record every finished attempt that has arrived, in one transaction."""
        results: list[AttemptResult] = []
        while True:
            try:
                kind, item = self._events.get_nowait()
            except queue.Empty:
                break
            if kind == "result":
                flight, result = item
                if self._in_flight.get(result.job.id) is flight:
                    results.append(result)
        if not results:
            return
        try:
            record_attempts(results, policy=self.retry_policy)
        except Exception:
            # Put them back so a database outage does not lose an outcome we hold.
            for r in results:
                self._events.put(("result", (self._in_flight[r.job.id], r)))
            raise
        for r in results:
            self._in_flight.pop(r.job.id, None)
            if r.outcome == AttemptOutcome.COMPLETED:
                self._stats.done += 1
            else:
                self._stats.failed += 1

    def _heartbeat(self, force: bool = False) -> None:
        now_m = time.monotonic()
        if not force and now_m - self._stats.last_heartbeat < self.heartbeat_interval:
            return
        self._stats.last_heartbeat = now_m
        renew_leases(worker_id=self.worker_id, job_ids=list(self._in_flight), lease_seconds=self.lease_seconds)
        now = timezone.now()
        WorkerHeartbeat.objects.update_or_create(
            worker_id=self.worker_id,
            defaults={
                "hostname": socket.gethostname(),
                "pid": os.getpid(),
                "concurrency": self.concurrency,
                "job_types": self.job_types,
                "last_seen_at": now,
                "jobs_done": self._stats.done,
                "jobs_failed": self._stats.failed,
                "stopped_at": None,
            },
            create_defaults={
                "hostname": socket.gethostname(),
                "pid": os.getpid(),
                "concurrency": self.concurrency,
                "job_types": self.job_types,
                "started_at": self._started_at,
                "last_seen_at": now,
            },
        )
        release_expired_leases(policy=self.retry_policy)
        run_periodic(worker_id=self.worker_id)

    def _enforce_timeouts(self) -> None:
        now_m = time.monotonic()
        expired = [
            f
            for f in self._in_flight.values()
            if f.started is not None and now_m > f.started + f.timeout + TIMEOUT_SLACK_SECONDS
        ]
        if not expired:
            return
        results = []
        for flight in expired:
            flight.ctx.abort("timed out")
            # The thread is stuck in the handler: retire it and start a replacement.
            if flight.thread is not None and flight.thread.ident is not None:
                self._retired.add(flight.thread.ident)
                self._start_thread()
            results.append(self._timeout_result(flight))
        record_attempts(results, policy=self.retry_policy)
        for r in results:
            self._in_flight.pop(r.job.id, None)
            self._stats.failed += 1

    def _timeout_result(self, flight: Flight) -> AttemptResult:
        return AttemptResult(
            job=flight.ctx.job,
            outcome=AttemptOutcome.TIMEOUT,
            finished_at=timezone.now(),
            duration_ms=(time.monotonic() - (flight.started or time.monotonic())) * 1000,
            error=f"timed out after {flight.timeout:g} s",
        )

    def _shutdown(self) -> None:
        """Stop claiming; hand back what has not started; finish the rest within the grace
        period; hand back whatever is still running then. Nothing spends an attempt."""
        pending = [f for f in self._in_flight.values() if f.started is None]
        for f in pending:
            f.ctx.abort("worker shutting down")
        self._retry_db(lambda: hand_back([f.ctx.job for f in pending]))
        for f in pending:
            self._in_flight.pop(f.ctx.job.id, None)
        deadline = time.monotonic() + self.grace_period
        while self._in_flight and time.monotonic() < deadline:
            self._retry_db(self._collect)
            self._retry_db(self._heartbeat)
            self._wait(timeout=min(0.2, max(0.0, deadline - time.monotonic())))
        self._retry_db(self._collect)
        if self._in_flight:
            remaining = list(self._in_flight.values())
            for f in remaining:
                f.ctx.abort("worker shutting down")
            handed = self._retry_db(lambda: hand_back([f.ctx.job for f in remaining]))
            logger.warning(
                "grace period over; handed back running jobs",
                extra={"worker": self.worker_id, "handed_back": handed or 0},
            )
            self._in_flight.clear()
        self._retry_db(
            lambda: WorkerHeartbeat.objects.filter(worker_id=self.worker_id).update(
                stopped_at=timezone.now(),
                last_seen_at=timezone.now(),
                jobs_done=self._stats.done,
                jobs_failed=self._stats.failed,
            )
        )
        logger.info(
            "worker stopped",
            extra={"worker": self.worker_id, "jobs_done": self._stats.done, "jobs_failed": self._stats.failed},
        )

    def _retry_db(self, fn, attempts: int = 3):
        for i in range(attempts):
            try:
                return fn()
            except (OperationalError, InterfaceError) as exc:
                logger.warning("database error during shutdown", extra={"error": str(exc)[:200]})
                self._close_connection()
                time.sleep(0.2 * (i + 1))
        return None

    # --- handler threads -----------------------------------------------------------------

    def _start_thread(self) -> None:
        thread = threading.Thread(target=self._thread_main, name=f"jobs-{len(self._threads)}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _thread_main(self) -> None:
        me = threading.get_ident()
        try:
            while me not in self._retired:
                flight = self._tasks.get()
                if flight is None:
                    return
                if flight.ctx._abort.is_set():  # handed back before it started
                    continue
                flight.thread = threading.current_thread()
                flight.started = time.monotonic()
                flight.ctx.deadline = flight.started + flight.timeout
                result = self._execute(flight)
                self._events.put(("result", (flight, result)))
                reset_queries()
        finally:
            connections.close_all()

    def _execute(self, flight: Flight) -> AttemptResult:
        ctx = flight.ctx
        job = ctx.job
        t0 = time.perf_counter()
        outcome, result, error, trace = AttemptOutcome.COMPLETED, None, None, None
        permanent, retry_after = False, None
        try:
            close_old_connections()
            spec = get_job_type(job.job_type)
            if spec is None:
                raise PermanentJobError(f"No handler registered for job type {job.job_type!r} in this worker.")
            result = spec.func(ctx)
            if result is None:
                result = {}
            if not isinstance(result, dict):
                raise TypeError(f"handler returned {type(result).__name__}, not a dict")
            json.dumps(result)
        except JobAborted as exc:
            outcome = AttemptOutcome.TIMEOUT if exc.reason == "timed out" else AttemptOutcome.CANCELLED
            error = f"timed out after {flight.timeout:g} s" if outcome == AttemptOutcome.TIMEOUT else exc.reason
            result = None
        except Exception as exc:
            outcome, result = AttemptOutcome.FAILED, None
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            trace = tb.format_exc()
            permanent = isinstance(exc, PermanentJobError)
            if isinstance(exc, RetryJobAfter):
                retry_after = exc.delay_seconds
        return AttemptResult(
            job=job,
            outcome=outcome,
            finished_at=timezone.now(),
            duration_ms=(time.perf_counter() - t0) * 1000,
            result=result,
            error=error,
            traceback=trace,
            permanent=permanent,
            retry_after=retry_after,
        )

    # --- waking up on PostgreSQL ---------------------------------------------------------

    def _listen(self) -> None:
        """LISTEN for enqueues so an idle worker starts a new job without waiting a poll."""
        import psycopg

        params = dict(connection.get_connection_params())
        for key in ("context", "cursor_factory", "prepare_threshold", "server_side_binding", "pool"):
            params.pop(key, None)
        backoff = 0.5
        while not self._stop_listening.is_set():
            try:
                with psycopg.connect(**params, autocommit=True) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    backoff = 0.5
                    while not self._stop_listening.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self._events.put(("wake", None))
            except Exception as exc:
                logger.warning(
                    "LISTEN connection lost; polling meanwhile",
                    extra={"worker": self.worker_id, "error": str(exc)[:200]},
                )
                self._stop_listening.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    # --- helpers -------------------------------------------------------------------------

    def _wait_for_database(self) -> None:
        delay = 0.5
        while not self.stopping:
            try:
                connection.ensure_connection()
                return
            except (OperationalError, InterfaceError) as exc:
                logger.warning(
                    "database unavailable at start; waiting", extra={"error": str(exc)[:200], "retry_in_s": delay}
                )
                self._close_connection()
                self._sleep(delay)
                delay = min(delay * 2, 30.0)

    def _close_connection(self) -> None:
        try:
            connection.close()
        except Exception:  # a dead connection may fail to close; it is gone either way
            pass

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < end:
            time.sleep(min(0.1, end - time.monotonic()))
