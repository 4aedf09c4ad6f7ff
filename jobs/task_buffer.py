"""The rows of the Tasks API's enqueues, written in bulk inside a transaction.

`.enqueue()` outside a transaction writes its job at once (one INSERT). Inside one
(`transaction.atomic()`), the rows wait on the connection and go in together: one COPY on
PostgreSQL, one executemany on SQLite (issue 13: a loop of .enqueue() calls in one
transaction as fast as job_enqueue_many). They are written, still in the transaction,

- before its COMMIT, and before a SAVEPOINT (hcm/db_backends/pending.py);
- before any other statement on the connection (an execute wrapper installed while rows
  wait), so a query in the same transaction sees the jobs;
- when PENDING_MAX_ROWS wait (memory stays bounded however many are enqueued).

A rollback, or a rollback to a savepoint, drops the rows that wait: they were all enqueued
after it (a savepoint writes what waits first). So the transaction's outcome decides, as for
a single INSERT: a worker never sees a job of an uncommitted or rolled-back transaction.
The job ids are made here (jobs.models.new_job_id), so each TaskResult has its id before
the row is written.
"""

import logging
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorDebugWrapper

from jobs.models import BackgroundJob
from jobs.services import _columns, _insert_sql

logger = logging.getLogger("jobs")

PENDING_MAX_ROWS = 10_000


class PendingJobs:
    """The job rows one connection's transaction holds back. Registered on the connection
    (its pending_writes, and first of its execute_wrappers) only while it holds rows."""

    def __init__(self, conn: BaseDatabaseWrapper, *, job_type: str, created_by: str) -> None:
        self.connection = conn
        self.job_type = job_type
        self.created_by = created_by
        self.rows: list[list[Any]] = []

    @classmethod
    def on(cls, conn: BaseDatabaseWrapper, *, job_type: str, created_by: str) -> "PendingJobs":
        for pending in conn.pending_writes:  # type: ignore[attr-defined]  # hcm.db_backends
            if isinstance(pending, cls) and pending.job_type == job_type:
                return pending
        pending = cls(conn, job_type=job_type, created_by=created_by)
        conn.pending_writes.append(pending)  # type: ignore[attr-defined]
        # First, so it runs before (and outside) any other wrapper; and never last, because
        # `with connection.execute_wrapper(...)` pops the last one on exit.
        conn.execute_wrappers.insert(0, pending)
        return pending

    def add(self, row: list[Any]) -> None:
        self.rows.append(row)
        if len(self.rows) >= PENDING_MAX_ROWS:
            self.flush()

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict) -> Any:
        """Another statement on the connection: the rows first, so it sees them."""
        self.flush()
        return execute(sql, params, many, context)

    def flush(self) -> None:
        rows = self._detach()
        try:
            write_job_rows(self.connection, rows)
        except Exception:
            # SQLite goes on after a failed statement: make sure this transaction cannot
            # commit without its jobs (atomic() rolls back; queries until then are refused).
            if self.connection.in_atomic_block:
                self.connection.needs_rollback = True
            raise
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "jobs queued",
                extra={"job_type": self.job_type, "count": len(rows), "outcome": "queued", "by": self.created_by},
            )

    def discard(self) -> None:
        self._detach()

    def _detach(self) -> list[list[Any]]:
        self.connection.pending_writes.remove(self)  # type: ignore[attr-defined]
        self.connection.execute_wrappers.remove(self)
        rows, self.rows = self.rows, []
        return rows


def enqueue_job_row(conn: BaseDatabaseWrapper, row: list[Any], *, job_type: str, created_by: str) -> None:
    """Queue one background_jobs row (as jobs.services._columns orders them) on `conn`:
    held back if the connection is in a transaction and can hold it (hcm.db_backends),
    written now otherwise."""
    if conn.in_atomic_block and hasattr(conn, "pending_writes"):
        PendingJobs.on(conn, job_type=job_type, created_by=created_by).add(row)
        return
    write_job_rows(conn, [row])
    if logger.isEnabledFor(logging.INFO):
        job_id = row[_columns(conn.vendor)[0].index("id")]
        logger.info("job queued", extra={"job_id": job_id, "job_type": job_type, "outcome": "queued", "by": created_by})


def write_job_rows(conn: BaseDatabaseWrapper, rows: list[list[Any]]) -> None:
    """INSERT the rows: one COPY on PostgreSQL (its statement trigger, migration jobs 0005,
    sends one NOTIFY), one executemany on SQLite."""
    if not rows:
        return
    columns, _ = _columns(conn.vendor)
    if len(rows) > 1:
        # In descending id order, as job_enqueue_many writes them: fewer instructions per
        # row in the primary key's B-tree than random order (SQLite: about 4 %).
        id_at = columns.index("id")
        rows = sorted(rows, key=lambda row: row[id_at], reverse=True)
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql" and len(rows) > 1:
            quote = conn.ops.quote_name
            sql = f"COPY {quote(BackgroundJob._meta.db_table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
            # psycopg's own cursor (Django's has no copy()), logged as Django logs queries
            # when it does (DEBUG, CaptureQueriesContext): "<rows> times: COPY …".
            logged = cursor.debug_sql(sql, rows, many=True) if isinstance(cursor, CursorDebugWrapper) else nullcontext()
            with logged, cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            # SQLite steps one prepared statement per row: fewer instructions per row than
            # multi-row INSERTs (about 13 %, which parse a statement per batch).
            cursor.executemany(_insert_sql(conn.vendor), rows)
