"""The rows of the Tasks API's enqueues, written in bulk inside a transaction.

`.enqueue()` outside a transaction writes its job at once (one INSERT). Inside one
(`transaction.atomic()`), the rows wait on the connection and go in together: one COPY on
PostgreSQL, 500-row INSERTs on SQLite (issue 13: a loop of .enqueue() calls in one
transaction as fast as job_enqueue_many). They are written, still in the transaction,

- before its COMMIT, and before a SAVEPOINT (hcm/db_backends/pending.py);
- before any other statement on the connection (an execute wrapper installed while rows
  wait), so a query in the same transaction sees the jobs;
- when PENDING_MAX_ROWS wait (memory stays bounded however many are enqueued).

A rollback, or a rollback to a savepoint, drops the rows that wait: they were all enqueued
after it (a savepoint writes what waits first). So the transaction's outcome decides, as for
a single INSERT: a worker never sees a job of an uncommitted or rolled-back transaction.
The job ids are made by the caller (jobs.models.new_job_id), so each TaskResult has its id
before the row is written.
"""

import logging
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorDebugWrapper

from jobs.models import BackgroundJob
from jobs.services import _columns, _insert_many_sqlite, _insert_sql

logger = logging.getLogger("jobs")

PENDING_MAX_ROWS = 10_000


class JobRows:
    """background_jobs rows alike but for a few columns: `template` holds one row's
    parameters (in jobs.services._columns' order), and each `add(conn, part)` gives the
    values of the `varying` columns, in that order. The rows a transaction holds back stay
    in that short form until they are written."""

    def __init__(self, template: list[Any], varying: tuple[str, ...], *, vendor: str, job_type: str, created_by: str):
        columns, _ = _columns(vendor)
        self.template = template
        self.varying = varying
        self.varying_at = [columns.index(name) for name in varying]
        self.job_type = job_type
        self.created_by = created_by
        # Where this source's parts wait, while they do (one connection's transaction): the
        # PendingJobs and its list of them, one tuple read and swapped whole.
        self._held: tuple[PendingJobs, list[tuple]] | None = None

    def add(self, conn: BaseDatabaseWrapper, part: tuple) -> None:
        """Queue one row on `conn`: held back if the connection is in a transaction and can
        hold it (hcm.db_backends), written now otherwise."""
        held = self._held
        if held is None or held[0].connection is not conn or not held[0].registered:
            if not (conn.in_atomic_block and hasattr(conn, "pending_writes")):
                self._write_now(conn, part)
                return
            pending = PendingJobs.on(conn, job_type=self.job_type, created_by=self.created_by)
            held = self._held = (pending, pending.parts_of(self))
        pending, parts = held
        parts.append(part)
        pending.count += 1
        if pending.count >= PENDING_MAX_ROWS:
            pending.flush()

    def row(self, part: tuple) -> list[Any]:
        row = self.template.copy()
        for at, value in zip(self.varying_at, part, strict=True):
            row[at] = value
        return row

    def _write_now(self, conn: BaseDatabaseWrapper, part: tuple) -> None:
        write_job_rows(conn, [(self, [part])])
        if logger.isEnabledFor(logging.INFO):
            job_id = part[self.varying.index("id")]
            logger.info(
                "job queued",
                extra={"job_id": job_id, "job_type": self.job_type, "outcome": "queued", "by": self.created_by},
            )


class PendingJobs:
    """The job rows one connection's transaction holds back, by their JobRows. Registered on
    the connection (its pending_writes, and first of its execute_wrappers) only while it
    holds rows."""

    def __init__(self, conn: BaseDatabaseWrapper, *, job_type: str, created_by: str) -> None:
        self.connection = conn
        self.job_type = job_type
        self.created_by = created_by
        self.groups: dict[JobRows, list[tuple]] = {}
        self.count = 0
        self.registered = False

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
        pending.registered = True
        return pending

    def parts_of(self, rows: JobRows) -> list[tuple]:
        return self.groups.setdefault(rows, [])

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict) -> Any:
        """Another statement on the connection: the rows first, so it sees them."""
        self.flush()
        return execute(sql, params, many, context)

    def flush(self) -> None:
        groups, count = self._detach()
        try:
            write_job_rows(self.connection, list(groups.items()))
        except Exception:
            # SQLite goes on after a failed statement: make sure this transaction cannot
            # commit without its jobs (atomic() rolls back; queries until then are refused).
            if self.connection.in_atomic_block:
                self.connection.needs_rollback = True
            raise
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "jobs queued",
                extra={"job_type": self.job_type, "count": count, "outcome": "queued", "by": self.created_by},
            )

    def discard(self) -> None:
        self._detach()

    def _detach(self) -> tuple[dict[JobRows, list[tuple]], int]:
        self.connection.pending_writes.remove(self)  # type: ignore[attr-defined]
        self.connection.execute_wrappers.remove(self)
        self.registered = False
        groups, count, self.groups, self.count = self.groups, self.count, {}, 0
        return groups, count


def write_job_rows(conn: BaseDatabaseWrapper, groups: list[tuple[JobRows, list[tuple]]]) -> None:
    """INSERT the rows, each group's parts (oldest first) on its template: one COPY on
    PostgreSQL (its statement trigger, migration jobs 0005, sends one NOTIFY), 500-row
    INSERTs on SQLite (jobs.services._insert_many_sqlite)."""
    groups = [(rows, parts) for rows, parts in groups if parts]
    if not groups:
        return
    columns, _ = _columns(conn.vendor)
    if sum(len(parts) for _, parts in groups) == 1:
        ((rows, (part,)),) = groups
        with conn.cursor() as cursor:
            cursor.execute(_insert_sql(conn.vendor), rows.row(part))
        return
    # In the order of the calls (oldest first): the list indexes end in (created_at, id), so
    # each row's entries land at the end of the one before, as job_enqueue_many's do
    # (SQLite: about twice the rows per second of id order, random against created_at).
    if conn.vendor != "postgresql":
        for rows, parts in groups:
            by_column = zip(*parts, strict=True)
            _insert_many_sqlite(conn, rows.template, dict(zip(rows.varying, by_column, strict=True)))
        return
    quote = conn.ops.quote_name
    sql = f"COPY {quote(BackgroundJob._meta.db_table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    width = len(columns)
    with conn.cursor() as cursor:
        # psycopg's own cursor (Django's has no copy()), logged as Django logs queries
        # when it does (DEBUG, CaptureQueriesContext): "<rows> times: COPY …".
        logged = (
            cursor.debug_sql(sql, [p for _, parts in groups for p in parts], many=True)
            if isinstance(cursor, CursorDebugWrapper)
            else nullcontext()
        )
        with logged, cursor.cursor.copy(sql) as copy:
            for rows, parts in groups:
                # Each column's values set across the group's rows at once, then row by row.
                block = rows.template * len(parts)
                for at, column in zip(rows.varying_at, zip(*parts, strict=True), strict=True):
                    block[at::width] = column
                for start in range(0, len(block), width):
                    copy.write_row(block[start : start + width])
