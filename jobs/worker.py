"""The worker: claims due jobs, runs their handlers on a thread pool, records outcomes.

`manage.py runworker` parses options and calls `Worker(...).run()`. The main thread owns
every job-state write after the claim (batched per loop); handler threads only run code
and report. Leases are renewed by the main thread while a job runs; a worker that dies
stops renewing, and any other worker requeues its jobs once the lease expires.
"""

import logging
import os
import queue
import resource
import signal
import socket
import threading
import time
import traceback as tb
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, TypeVar

from django.conf import settings
from django.db import (
    InterfaceError,
    OperationalError,
    connection,
    connections,
    reset_queries,
    transaction,
)
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from hcm.logging import log_context_reset, log_context_set
from jobs.claim import claim_jobs
from jobs.context import ClaimedJob, JobContext
from jobs.errors import JobAborted, PermanentJobError, RetryJobAfter
from jobs.models import AttemptOutcome, WorkerHeartbeat
from jobs.periodic import run_periodic
from jobs.registry import get_job_type, job_type_names
from jobs.retry import RetryPolicy
from jobs.services import NOTIFY_CHANNEL
from jobs.transitions import (
    AttemptResult,
    hand_back,
    record_attempts,
    release_expired_leases,
    renew_leases,
    stored_result,
    unstorable_result,
)

logger = logging.getLogger("jobs.worker")

# Extra time a handler gets past its timeout to notice it at a progress check before the
# worker gives up on it and counts the attempt as timed out.
TIMEOUT_SLACK_SECONDS = 1.0

# Claim ahead of free threads (prefetch) only while attempts average at most this long,
# and at most about this much work per thread waiting (so 100 no-op jobs, 4 of 50 ms).
PREFETCH_MAX_JOB_MS = 50.0
PREFETCH_HOLD_MS = 50.0
DEFAULT_PREFETCH_PER_THREAD = 25

# With short jobs in hand, the main thread lets results gather (up to half of what it
# holds, for at most this long) before writing them: one transaction records and claims
# a big batch while the threads run the other half.
BATCH_GATHER_SECONDS = 0.02

# The connection is gone or the database refuses work for now: wait and try again.
# Anything else from the database is a problem with what we asked, not with the database.
OUTAGE_ERRORS = (OperationalError, InterfaceError)

# Exit code after too many handler threads were abandoned (handlers that ignored their
# timeout and are still running): the worker stopped claiming, finished what it could and
# exits for its supervisor to start a fresh process. Any other stop exits 0.
EXIT_ABANDONED_THREADS = 3

T = TypeVar("T")


class FlightState:
    PENDING = "pending"  # claimed, waiting for a free thread
    RUNNING = "running"  # a thread is running the handler
    FINISHED = "finished"  # the handler returned; its result is on its way to the database
    ABANDONED = "abandoned"  # the main thread took it back (timeout, shutdown): the handler's result is void


def rss_mib() -> float:
    """This process's resident memory now (Linux /proc; elsewhere its peak so far)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
        return peak / 2**20 if peak > 2**32 else peak / 2**10


@dataclass(eq=False)
class Flight:
    """A claimed job from the moment it is claimed until its outcome is recorded.

    The state changes under a lock so that the handler thread (start, finish) and the
    main thread (time out, hand back) cannot both decide a job's fate: exactly one of
    "the handler's result counts" and "the worker took the job back" happens.
    """

    ctx: JobContext
    timeout: float
    started: float | None = None  # time.monotonic() when a thread began running it
    state: str = FlightState.PENDING
    returned: bool = False  # the handler returned (its thread is free again, or gone)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def key(self) -> tuple[str, int]:
        return (self.ctx.job.id, self.ctx.job.attempt)

    def begin(self) -> bool:
        """Handler thread: take the job to run it; False if the worker took it back first."""
        with self._lock:
            if self.state != FlightState.PENDING:
                return False
            self.started = time.monotonic()
            self.ctx.deadline = self.started + self.timeout
            self.state = FlightState.RUNNING
            return True

    def finish(self) -> bool:
        """Handler thread: the handler returned; False if its result no longer counts."""
        with self._lock:
            if self.state != FlightState.RUNNING:
                return False
            self.state = FlightState.FINISHED
            return True

    def abandon(self, *, only_pending: bool = False) -> str | None:
        """Main thread: take the job back from its thread. Returns the state it was
        taken in (pending or running), or None when it had finished (or was taken)."""
        with self._lock:
            allowed = (FlightState.PENDING,) if only_pending else (FlightState.PENDING, FlightState.RUNNING)
            if self.state not in allowed:
                return None
            previous, self.state = self.state, FlightState.ABANDONED
            return previous


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
        prefetch: int | None = None,
        queues: list[str] | None = None,
        max_jobs: int | None = None,
        max_memory_mib: float | None = None,
        max_abandoned_threads: int | None = None,
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
        self.queues = queues or None
        # Recycling (the supervisor starts a fresh process): after this many jobs claimed, or
        # past this resident memory, stop claiming, finish the jobs in hand and exit 0.
        self.max_jobs = max_jobs
        self.max_memory_mib = max_memory_mib
        # Handlers that ignored their timeout keep their (abandoned) threads; past this many
        # still running, stop claiming, finish the rest and exit EXIT_ABANDONED_THREADS.
        self.max_abandoned_threads = concurrency if max_abandoned_threads is None else max_abandoned_threads
        self._claimed = 0
        self._abandoned: list[Flight] = []
        self._draining = ""  # why the worker stopped claiming (it exits once its jobs are done)
        self._exit_code = 0
        self.heartbeat_interval = max(0.2, min(lease_seconds / 4, 10.0))
        self.listen = listen
        # Jobs claimed ahead of free threads, while jobs are short (see _capacity).
        self.prefetch = DEFAULT_PREFETCH_PER_THREAD * concurrency if prefetch is None else prefetch
        if self.prefetch < 0:
            raise ValueError("prefetch must be 0 or more")
        self._recent_ms: float | None = None  # moving average of attempt durations
        # By default only the types this process has handlers for: a job of a type added in
        # a newer release waits for a worker that knows it instead of failing here.
        self._claim_types = self.job_types or job_type_names()

        # SimpleQueue: its put() is safe to call from a signal handler (to wake the loop).
        self._events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._tasks: queue.SimpleQueue[Flight | None] = queue.SimpleQueue()
        self._in_flight: dict[tuple[str, int], Flight] = {}
        # Finished attempts not yet in the database (kept across a database outage).
        self._unrecorded: list[AttemptResult] = []
        self._threads: list[threading.Thread] = []
        self._signals = 0
        self._signal_name = ""
        self._stop_listening = threading.Event()
        self._stats = _Stats()
        self._started_at = timezone.now()
        # Django keeps each statement in connection.queries only with DEBUG: only then does
        # a handler thread clear them after each job (a walk over the connections otherwise).
        self._queries_logged = settings.DEBUG

    # --- lifecycle -----------------------------------------------------------------------

    def run(self) -> int:
        """Run until a signal (or, with burst, until nothing is due). Returns the exit code."""
        previous = self._install_signal_handlers()
        # Every line of this thread names the worker (handler threads add the job's fields).
        context = log_context_set({"worker": self.worker_id})
        try:
            self._wait_for_database()
            if not self.stopping:
                self._retry_db(lambda: self._heartbeat(force=True), attempts=10)
                logger.info(
                    "worker started",
                    extra={
                        "worker": self.worker_id,
                        "pid": os.getpid(),
                        "concurrency": self.concurrency,
                        "job_types": ",".join(self.job_types or ["*"]),
                        "queues": ",".join(self.queues or ["*"]),
                        "vendor": connection.vendor,
                    },
                )
                for _ in range(self.concurrency):
                    self._start_thread()
                if self.listen and connection.vendor == "postgresql":
                    threading.Thread(target=self._listen, name="jobs-listen", daemon=True).start()
                self._loop()
            self._shutdown()
            return self._exit_code
        finally:
            log_context_reset(context)
            self._stop_listening.set()
            for _ in self._threads:
                self._tasks.put(None)
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def request_shutdown(self) -> None:
        """Stop as on SIGTERM (for running a Worker in a thread, e.g. in tests)."""
        self._signals = max(self._signals, 1)
        self._events.put(("wake", None))

    @property
    def stopping(self) -> bool:
        return self._signals > 0

    def _install_signal_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous: dict[int, Any] = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.getsignal(sig)
            signal.signal(sig, self._on_signal)
        return previous

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Runs on the main thread between two bytecodes, possibly in the middle of a log
        # write: no logging here (a reentrant write to the same stream can raise). Set a
        # flag and wake the loop; it logs and shuts down.
        self._signals += 1
        if self._signals == 1:
            self._signal_name = signal.Signals(signum).name
            self._events.put(("wake", None))
            return
        try:
            os.write(2, b"worker exiting now (second signal); leases will requeue its jobs\n")
        except OSError:
            pass
        os._exit(1)

    # --- main loop -----------------------------------------------------------------------

    def _loop(self) -> None:
        failures = 0
        outage = False
        burst_idle = 0
        while not self.stopping:
            try:
                claimed = self._tick()
                if outage:
                    logger.info("database available again", extra={"worker": self.worker_id})
                failures, outage = 0, False
            except OUTAGE_ERRORS as exc:
                failures, outage = failures + 1, True
                delay = min(30.0, 0.25 * 2 ** min(failures, 7))
                logger.warning(
                    "database unavailable; retrying",
                    extra={
                        "worker": self.worker_id,
                        "error": str(exc).strip()[:200],
                        "retry_in_s": delay,
                        "unrecorded": len(self._unrecorded),
                    },
                )
                self._close_connection()
                self._sleep(delay)
                continue
            except Exception:
                # A bug, not an outage: keep the jobs in hand (and their leases) and retry.
                failures += 1
                delay = min(30.0, 0.25 * 2 ** min(failures, 7))
                logger.exception("worker loop failed; retrying", extra={"worker": self.worker_id, "retry_in_s": delay})
                self._sleep(delay)
                continue
            if self.burst and not claimed and not self._in_flight and self._events.empty():
                # Twice in a row: what the last recorded outcomes enqueued after their commit
                # (a failure alert, say) was not there yet for the claim in the same tick.
                burst_idle += 1
                if burst_idle >= 2:
                    logger.info("burst: nothing due; exiting", extra={"worker": self.worker_id})
                    return
                continue
            burst_idle = 0
            if self._draining and not self._in_flight and not self._unrecorded:
                logger.info("worker recycling: jobs in hand done; exiting", extra={"reason": self._draining})
                return
            free = self._capacity() - len(self._in_flight)
            if claimed and free > 0:
                continue  # took fewer than asked while threads are idle: look again at once
            # Idle: sleep until a result, a NOTIFY or a signal arrives, or the poll interval.
            # Full: sleep until a result frees a slot (or the heartbeat is due).
            self._wait(timeout=min(self.poll_interval, self.heartbeat_interval))

    def _tick(self) -> int:
        self._drain_events()
        self._heartbeat()
        self._enforce_timeouts()
        # Recording the finished attempts frees their slots for this claim.
        free = self._capacity() - len(self._in_flight) + len(self._unrecorded)
        if self.stopping or self._draining:
            free = 0
        elif self.max_jobs is not None:
            free = min(free, self.max_jobs - self._claimed)
        jobs = self._record_and_claim(free)
        self._claimed += len(jobs)
        if self.max_jobs is not None and self._claimed >= self.max_jobs:
            self._drain(f"--max-jobs {self.max_jobs} reached")
        for job in jobs:
            self._dispatch(job)
        # After the claim, not before: an idle worker woken by a NOTIFY claims ~30 µs sooner.
        reset_queries()
        return len(jobs)

    def _capacity(self) -> int:
        """How many jobs to hold: one per thread, plus up to `prefetch` waiting while recent
        jobs are short, about PREFETCH_HOLD_MS of work per thread. Short jobs spend more
        time on claiming and recording than on running, so bigger batches raise
        throughput; long jobs would only be held from idle workers elsewhere (they still
        could not start before a thread frees up here)."""
        recent = self._recent_ms
        if self.prefetch and recent is not None and recent <= PREFETCH_MAX_JOB_MS:
            ahead = self.concurrency * PREFETCH_HOLD_MS / max(recent, 0.001)
            return self.concurrency + min(self.prefetch, int(ahead))
        return self.concurrency

    def _claim(self, limit: int) -> list[ClaimedJob]:
        if limit <= 0:
            return []
        return claim_jobs(
            worker_id=self.worker_id,
            limit=limit,
            lease_seconds=self.lease_seconds,
            job_types=self._claim_types,
            queues=self.queues,
        )

    def _record_and_claim(self, limit: int) -> list[ClaimedJob]:
        """Write the finished attempts' outcomes and claim up to `limit` jobs, in one
        transaction: one commit (one fsync on PostgreSQL) per batch, not two.

        On a database outage the outcomes stay in `_unrecorded` for a later tick: a
        finished job's outcome is never dropped while the worker lives.
        """
        if not self._unrecorded:
            return self._claim(limit)
        batch = self._unrecorded
        jobs: list[ClaimedJob] = []
        try:
            with transaction.atomic():
                record_attempts(batch, policy=self.retry_policy)
                jobs = self._claim(limit)
        except OUTAGE_ERRORS:
            raise
        except Exception:
            # Not an outage: one outcome the database refuses must not block the rest.
            logger.exception("could not record a batch of outcomes; recording one by one")
            for r in batch:
                self._record_alone(r)
        self._unrecorded = []
        for r in batch:
            self._recent_ms = r.duration_ms if self._recent_ms is None else 0.8 * self._recent_ms + 0.2 * r.duration_ms
            self._in_flight.pop((r.job.id, r.job.attempt), None)
            if r.outcome == AttemptOutcome.COMPLETED:
                self._stats.done += 1
            else:
                self._stats.failed += 1
        return jobs

    def _collect(self) -> None:
        """Record every finished attempt that has arrived (claims nothing)."""
        self._drain_events()
        self._record_and_claim(0)

    def _drain_events(self) -> None:
        while True:
            try:
                kind, item = self._events.get_nowait()
            except queue.Empty:
                return
            if kind == "result":
                self._unrecorded.append(item)

    def _drain(self, reason: str, *, exit_code: int = 0) -> None:
        """Stop claiming for good; the loop exits once the jobs in hand are recorded."""
        if self._draining:
            self._exit_code = max(self._exit_code, exit_code)
            return
        self._draining, self._exit_code = reason, exit_code
        logger.log(
            logging.WARNING if exit_code else logging.INFO,
            "worker recycling: no more claims; finishing the jobs in hand",
            extra={"reason": reason, "in_flight": len(self._in_flight), "exit_code": exit_code},
        )

    def _hand_back_pending(self) -> None:
        """Return the claimed jobs no thread has started to the queue (no attempt spent)."""
        not_started = [f for f in self._in_flight.values() if f.abandon(only_pending=True)]
        if not_started:
            self._retry_db(lambda: hand_back([f.ctx.job for f in not_started]))
            for f in not_started:
                self._in_flight.pop(f.key, None)

    def _check_limits(self) -> None:
        """Memory and abandoned threads, checked with the heartbeat (not per job)."""
        if self.max_memory_mib is not None:
            rss = rss_mib()
            if rss > self.max_memory_mib:
                self._drain(f"--max-memory {self.max_memory_mib:g} MiB exceeded ({rss:.1f} MiB)")
        self._abandoned = [f for f in self._abandoned if not f.returned]
        if len(self._abandoned) > self.max_abandoned_threads:
            self._drain(
                f"{len(self._abandoned)} handler threads ignored their timeout and are still running "
                f"(limit {self.max_abandoned_threads})",
                exit_code=EXIT_ABANDONED_THREADS,
            )
            # No replacement threads from here: what no thread has started goes back now.
            self._hand_back_pending()

    def _dispatch(self, job: ClaimedJob) -> None:
        spec = get_job_type(job.job_type)
        timeout = spec.timeout if spec else 60.0
        ctx = JobContext(job=job, payload=job.payload, deadline=float("inf"))
        flight = Flight(ctx=ctx, timeout=timeout)
        self._in_flight[flight.key] = flight
        # One line per job at INFO (the outcome, from jobs/transitions.py); the start is
        # DEBUG, and its fields are not even gathered unless that level is on.
        if logger.isEnabledFor(logging.DEBUG):
            fields = {
                "job_id": job.id,
                "job_type": job.job_type,
                "attempt": job.attempt,
                "outcome": "processing",
                "worker": self.worker_id,
            }
            if job.request_id:
                fields["request_id"] = job.request_id
            logger.debug("job started", extra=fields)
        self._tasks.put(flight)

    def _wait(self, timeout: float) -> None:
        try:
            event = self._events.get(timeout=timeout) if timeout > 0 else self._events.get_nowait()
        except queue.Empty:
            return
        self._events.put(event)  # the next tick drains it with the rest of the batch
        self._gather_results()

    def _gather_results(self) -> None:
        """Short jobs: wait (briefly) for half the jobs in hand to finish, so that one
        transaction records them all and claims as many, instead of one per result. The
        other half keeps the threads busy meanwhile. Long jobs, or a job alone: no wait."""
        if not self._in_flight or self._recent_ms is None or self._recent_ms > PREFETCH_MAX_JOB_MS or self.stopping:
            return  # nothing to wait for (an idle worker woken by a NOTIFY claims at once)
        want = min(len(self._in_flight), self._capacity() // 2)
        deadline = time.monotonic() + BATCH_GATHER_SECONDS
        while True:
            try:
                kind, item = self._events.get_nowait()
            except queue.Empty:
                left = deadline - time.monotonic()
                if len(self._unrecorded) >= want or left <= 0:
                    return
                try:
                    kind, item = self._events.get(timeout=left)
                except queue.Empty:
                    return
            if kind != "result":
                self._events.put((kind, item))  # a wake-up (signal, NOTIFY): the loop looks at once
                return
            self._unrecorded.append(item)

    def _record_alone(self, r: AttemptResult) -> None:
        try:
            record_attempts([r], policy=self.retry_policy)
            return
        except OUTAGE_ERRORS:
            raise
        except Exception as exc:
            logger.exception("could not record a result", extra={"job_id": r.job.id})
            fallback = unstorable_result(r, exc)
        try:
            record_attempts([fallback], policy=self.retry_policy)
        except OUTAGE_ERRORS:
            raise
        except Exception:
            # The lease will expire and another attempt will run the job again.
            logger.exception("could not record a failure either; the lease will expire", extra={"job_id": r.job.id})

    def _heartbeat(self, force: bool = False) -> None:
        now_m = time.monotonic()
        if not force and now_m - self._stats.last_heartbeat < self.heartbeat_interval:
            return
        # Every job in hand keeps its lease until its outcome is in the database, including
        # finished ones whose result waits out an outage.
        held = renew_leases(
            worker_id=self.worker_id,
            job_ids=[job_id for job_id, _ in self._in_flight],
            lease_seconds=self.lease_seconds,
        )
        for (job_id, _), flight in self._in_flight.items():
            if job_id not in held and flight.state == FlightState.RUNNING:
                # Cancelled, or taken over after our lease expired: stop the handler at
                # its next ctx.check(), even one that never writes progress.
                flight.ctx.abort("no longer held by this worker (cancelled or lease lost)")
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
        # Only after the writes above succeeded: after an outage, renew at once.
        self._stats.last_heartbeat = now_m
        self._check_limits()
        try:
            run_periodic(worker_id=self.worker_id)
        except OUTAGE_ERRORS:
            raise
        except Exception:
            logger.exception("periodic work failed", extra={"worker": self.worker_id})

    def _enforce_timeouts(self) -> None:
        now_m = time.monotonic()
        for flight in list(self._in_flight.values()):
            if flight.started is None or now_m <= flight.started + flight.timeout + TIMEOUT_SLACK_SECONDS:
                continue
            if flight.abandon() is None:
                continue  # finished meanwhile (its result is on the way), or already timed out
            flight.ctx.abort("timed out")
            # The thread is stuck in the handler: it exits when (if) the handler returns.
            # Start a replacement so the worker keeps its concurrency, up to a limit: past
            # it the worker stops claiming and exits for its supervisor to restart it.
            self._abandoned.append(flight)
            self._check_limits()
            if self._exit_code != EXIT_ABANDONED_THREADS:
                self._start_thread()
            logger.warning(
                "handler ignored its timeout; its thread is abandoned and replaced",
                extra={"job_id": flight.ctx.job.id, "job_type": flight.ctx.job.job_type, "worker": self.worker_id},
            )
            self._unrecorded.append(
                AttemptResult(
                    job=flight.ctx.job,
                    outcome=AttemptOutcome.TIMEOUT,
                    finished_at=timezone.now(),
                    duration_ms=(now_m - flight.started) * 1000,
                    error=f"timed out after {flight.timeout:g} s",
                )
            )

    def _shutdown(self) -> None:
        """Stop claiming; hand back what has not started; finish the rest within the grace
        period; hand back whatever is still running then. Nothing spends an attempt."""
        logger.info(
            "worker stopping: finishing jobs in hand",
            extra={
                "worker": self.worker_id,
                "signal": self._signal_name or "-",
                "in_flight": len(self._in_flight),
                "grace_period": self.grace_period,
            },
        )
        self._hand_back_pending()
        deadline = time.monotonic() + self.grace_period
        while self._in_flight and time.monotonic() < deadline:
            self._retry_db(self._collect, attempts=1)
            self._retry_db(self._heartbeat, attempts=1)
            self._enforce_timeouts()
            self._wait(timeout=min(0.1, max(0.0, deadline - time.monotonic())))
        running = [f for f in self._in_flight.values() if f.abandon()]
        for f in running:
            f.ctx.abort("worker shutting down")
        self._retry_db(self._collect)  # what finished before the hand-back decision
        if running:
            handed = self._retry_db(lambda: hand_back([f.ctx.job for f in running]))
            logger.warning(
                "grace period over; handed back running jobs",
                extra={"worker": self.worker_id, "handed_back": handed or 0},
            )
        if self._unrecorded:
            logger.error(
                "exiting with results the database did not take; their leases will expire and they will run again",
                extra={"worker": self.worker_id, "job_ids": ",".join(r.job.id for r in self._unrecorded)},
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

    def _retry_db(self, fn: Callable[[], T], attempts: int = 3) -> T | None:
        for i in range(attempts):
            try:
                return fn()
            except OUTAGE_ERRORS as exc:
                logger.warning(
                    "database error; retrying", extra={"worker": self.worker_id, "error": str(exc).strip()[:200]}
                )
                self._close_connection()
                time.sleep(0.2 * (i + 1))
        return None

    # --- handler threads -----------------------------------------------------------------

    def _start_thread(self) -> None:
        thread = threading.Thread(target=self._thread_main, name=f"jobs-{len(self._threads)}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _thread_main(self) -> None:
        # This thread's connection wrappers, made once (none connects before a job queries).
        wrappers = connections.all()
        try:
            while True:
                flight = self._tasks.get()
                if flight is None:
                    return
                if not flight.begin():
                    continue  # handed back before it started
                result = self._execute(flight, wrappers)
                flight.returned = True
                if not flight.finish():
                    # Timed out (a replacement thread was started) or handed back at
                    # shutdown: this thread's job is over.
                    return
                self._events.put(("result", result))
                if self._queries_logged:
                    reset_queries()
        finally:
            connections.close_all()

    def _execute(self, flight: Flight, wrappers: Sequence[BaseDatabaseWrapper]) -> AttemptResult:
        ctx = flight.ctx
        job = ctx.job
        t0 = time.perf_counter()
        outcome, result, result_json, error, trace = AttemptOutcome.COMPLETED, None, None, None, None
        permanent, retry_after = False, None
        # Every line the handler logs names its job (and the request that queued it).
        fields = {"job_id": job.id, "job_type": job.job_type, "attempt": job.attempt, "worker": job.worker_id}
        if job.request_id:
            fields["request_id"] = job.request_id
        context = log_context_set(fields)
        try:
            # close_old_connections(), without looking this thread's connections up each time.
            for wrapper in wrappers:
                if wrapper.connection is not None:
                    wrapper.close_if_unusable_or_obsolete()  # broken, or past CONN_MAX_AGE
            spec = get_job_type(job.job_type)
            if spec is None:
                raise PermanentJobError(f"No handler registered for job type {job.job_type!r} in this worker.")
            # However the row was written, the handler sees only a payload its schema accepts.
            ctx.payload = spec.payload_for_run(job.payload, organization_id=job.organization_id)
            result, result_json = stored_result(spec.func(ctx))
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
        finally:
            log_context_reset(context)
        return AttemptResult(
            job=job,
            outcome=outcome,
            finished_at=timezone.now(),
            duration_ms=(time.perf_counter() - t0) * 1000,
            result=result,
            result_json=result_json,
            error=error,
            traceback=trace,
            permanent=permanent,
            retry_after=retry_after,
            counts=ctx.counts,
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
                with psycopg.connect(**params, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    logger.info("listening for enqueues", extra={"worker": self.worker_id, "channel": NOTIFY_CHANNEL})
                    # Whatever was enqueued while we were not listening is due now.
                    self._events.put(("wake", None))
                    backoff = 0.5
                    while not self._stop_listening.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self._events.put(("wake", None))
            except Exception as exc:
                if self._stop_listening.is_set():
                    return
                backoff = min(backoff * 2, 30.0)
                logger.warning(
                    "LISTEN connection lost; polling meanwhile",
                    extra={"worker": self.worker_id, "error": str(exc).strip()[:200], "retry_in_s": backoff},
                )
                self._stop_listening.wait(backoff)

    # --- helpers -------------------------------------------------------------------------

    def _wait_for_database(self) -> None:
        delay = 0.5
        while not self.stopping:
            try:
                connection.ensure_connection()
                return
            except OUTAGE_ERRORS as exc:
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
