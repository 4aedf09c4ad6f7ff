"""Enqueue, cancel, retry, run now, pause and resume: what the API, the admin and the rest
of the platform call. The worker's own writes live in jobs/transitions.py."""

import enum
import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import QuerySet
from django.db.models.base import ModelState
from django.utils import timezone

from hcm.exceptions import InvalidInput, StateConflict
from hcm.logging import current_request_id
from hcm.models import Organization
from jobs.models import (
    DEFAULT_MAX_RETRIES,
    FINISHED_STATUSES,
    BackgroundJob,
    JobPriority,
    JobStatus,
    JobTrigger,
    JobTypePause,
    new_job_id,
    new_job_ids,
)
from jobs.registry import get_job_type, job_scope, job_type_names, unknown_job_type_message

logger = logging.getLogger("jobs")

NOTIFY_CHANNEL = "hcm_jobs"
MAX_RETRIES_LIMIT = 10  # the bg_jobs_max_retries_range constraint
CANCELLABLE = (JobStatus.QUEUED, JobStatus.PROCESSING)
RETRYABLE = (JobStatus.FAILED, JobStatus.CANCELLED)
BULK_BATCH_SIZE = 1000


class JobStateError(StateConflict):
    """The job is not in a state that allows this action (API: 400 naming `status`)."""


def _notify_workers(job_type: str) -> None:
    # For jobs made due by an UPDATE (retry, run now, resume); inserts notify by trigger.
    # Delivered when the surrounding transaction commits; wakes LISTENing workers.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, job_type])


# --- Enqueue ------------------------------------------------------------------------------
# One INSERT per job (in bulk: executemany on SQLite, COPY on PostgreSQL), its values built in plain
# Python once the request is validated: no model save(), no savepoint, no second round trip.
# The job id is made here and available_at is what the database derives from run_at (no
# retry yet), so nothing needs to be read back.


def _validated(
    *,
    organization: Organization | None,
    job_type: str,
    priority: str | None,
    max_retries: int,
    payloads: Sequence[Any],
    payload_field: Callable[[int], str],
) -> tuple[int, list[dict[str, Any]]]:
    """The one set of enqueue rules (job_enqueue and job_enqueue_many): returns (priority
    as stored, cleaned payloads), or raises InvalidInput naming every bad field at once —
    of the payloads, the first bad one, as `payload_field(index)`."""
    errors: dict[str, Any] = {}
    spec = get_job_type(job_type)
    scope = job_scope(organization.pk if organization else None)
    if spec is None:
        errors["job_type"] = [unknown_job_type_message(job_type, job_type_names())]
    elif not spec.allows(scope):
        errors["job_type"] = [
            f"{job_type} cannot run in scope {scope!r} (it allows: {', '.join(sorted(spec.scopes))})."
        ]
    priority = priority or (spec.priority if spec else JobPriority.MEDIUM.label)
    if priority not in _PRIORITY_VALUES:
        errors["priority"] = [f"Must be one of {', '.join(JobPriority.labels)}."]
    if not 0 <= max_retries <= MAX_RETRIES_LIMIT:
        # Checked here, not left to the CHECK constraint: its IntegrityError would break the
        # caller's transaction (and read like an idempotency-key conflict).
        errors["max_retries"] = [f"Must be between 0 and {MAX_RETRIES_LIMIT}."]
    clean: list[dict[str, Any]] = []
    if spec is not None:
        for index, payload in enumerate(payloads):
            try:
                clean.append(spec.validate_payload(payload, scope=scope))
            except InvalidInput as exc:
                name = payload_field(index)
                errors.update({key.replace("payload", name, 1): value for key, value in exc.errors.items()})
                break
    if errors:
        raise InvalidInput(errors)
    return _PRIORITY_VALUES[priority], clean


_PRIORITY_VALUES = {p.label: int(p) for p in JobPriority}


@functools.cache
def _columns(vendor: str) -> tuple[list[str], dict[str, Any]]:
    """The INSERT's columns (every stored one but available_at, which the database derives)
    and each one's value when the enqueue does not set it (its model default, as stored)."""
    fields = [f for f in BackgroundJob._meta.concrete_fields if not f.generated]
    defaults: dict[str, Any] = {}
    for f in fields:
        if f.has_default() and not callable(f.default):
            value = f.get_db_prep_save(f.get_default(), connection)
            # A choice's plain value: the driver binds a str or an int without asking an adapter.
            defaults[f.attname] = value.value if isinstance(value, enum.Enum) else value
        elif f.null:
            defaults[f.attname] = None
    return [f.attname for f in fields], defaults


@functools.cache
def _insert_sql(vendor: str, *, on_conflict_do_nothing: bool = False) -> str:
    columns, _ = _columns(vendor)
    quote = connection.ops.quote_name
    return (
        f"INSERT INTO {quote(BackgroundJob._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}){' ON CONFLICT DO NOTHING' if on_conflict_do_nothing else ''}"
    )


def _shared_values(*, now: datetime, db: BaseDatabaseWrapper | None = None, **values: Any) -> dict[str, Any]:
    """The stored values every job of one enqueue call shares (its id and payload aside),
    as `db` (default: the default database's connection) stores them."""
    db = db or connections[DEFAULT_DB_ALIAS]
    stored_now = db.ops.adapt_datetimefield_value(now)  # timezone.now(): aware, as stored
    run_at = values.pop("run_at")
    return {
        **values,
        # The caller's run_at through the field: a naive one is read in the current time zone.
        "run_at": stored_now if run_at is now else _RUN_AT_FIELD.get_db_prep_save(run_at, db),
        "created_at": stored_now,
        "updated_at": stored_now,
        "updated_by": values["created_by"],
        # The web request (or the job) that queues this one: its id follows into the worker's lines.
        "request_id": current_request_id(),
    }


def _row(
    shared: dict[str, Any], *, job_id: str, payload: dict[str, Any], db: BaseDatabaseWrapper | None = None
) -> list[Any]:
    """One job's INSERT parameters, in _columns' order."""
    db = db or connections[DEFAULT_DB_ALIAS]
    columns, defaults = _columns(db.vendor)
    row = {**defaults, **shared, "id": job_id, "payload": _PAYLOAD_FIELD.get_db_prep_save(payload, db)}
    try:
        return [row[c] for c in columns]
    except KeyError as exc:  # a NOT NULL column without a default that enqueue does not set
        raise TypeError(f"enqueue does not set background_jobs.{exc.args[0]}") from None


def _insert(db: BaseDatabaseWrapper, sql: str, row: list[Any]) -> bool:
    """Run job_enqueue's INSERT; True if it wrote the row (ON CONFLICT DO NOTHING may not)."""
    return _execute_insert(db, sql, row) == 1


def _execute_insert(db: BaseDatabaseWrapper, sql: str, params: list[Any]) -> int:
    """Run one of enqueue's INSERTs; returns its rowcount.

    Straight through the DB-API connection, not Django's cursor: on SQLite that cursor
    would rewrite every `%s` with a regular expression and wrap the call twice, about a
    fifth of a job_enqueue call's CPU (and, for a 500-row INSERT, a rewrite of 15,000
    placeholders); on PostgreSQL a new cursor and its wrapper per call cost as much CPU
    as the rest of the call's Python. The checks Django's cursor makes are made here (a
    broken atomic block, the connection's thread, its health check) and errors are
    translated as Django translates them. While queries are logged (DEBUG, a test
    counting them) or an execute_wrapper watches, it goes through Django's cursor wrapper
    so that it is seen."""
    if db.queries_logged or db.execute_wrappers:
        with _watched_cursor(db) as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount
    db.validate_no_broken_transaction()
    db.close_if_health_check_failed()
    db.ensure_connection()
    db.validate_thread_sharing()
    with db.wrap_database_errors:
        if db.vendor == "postgresql":
            return _kept_cursor(db).execute(sql, params).rowcount
        return db.connection.execute(_qmark(sql), params).rowcount


def _server_binding_cursor(raw_connection: Any) -> Any:
    """A psycopg cursor that binds parameters on the server (Django's bind them in the
    client), so psycopg prepares enqueue's INSERT after a few runs on a connection and
    PostgreSQL stops parsing and planning a 30-column INSERT per job: about 10 % less CPU
    per job, client and server together. A connection with OPTIONS["prepare_threshold"]
    = None (e.g. behind PgBouncer in transaction mode) prepares nothing; binding on the
    server still works there."""
    import psycopg  # PostgreSQL only

    return psycopg.Cursor(raw_connection)


def _watched_cursor(db: BaseDatabaseWrapper) -> CursorWrapper:
    """A cursor Django's query log and execute_wrappers see (server-binding on PostgreSQL)."""
    if db.vendor != "postgresql":
        return db.cursor()
    db.close_if_health_check_failed()
    db.ensure_connection()
    db.validate_thread_sharing()
    return (CursorDebugWrapper if db.queries_logged else CursorWrapper)(_server_binding_cursor(db.connection), db)


def _kept_cursor(db: BaseDatabaseWrapper) -> Any:
    """The connection's server-binding cursor for enqueue's INSERTs, made once per
    connection (a new one per call costs a fifth of the call's CPU)."""
    cursor = getattr(db, "_enqueue_cursor", None)
    if cursor is None or cursor.closed or cursor.connection is not db.connection:
        cursor = db._enqueue_cursor = _server_binding_cursor(db.connection)  # type: ignore[attr-defined]
    return cursor


ROWS_PER_INSERT = 500  # job_enqueue_many on SQLite: rows per multi-row INSERT


@functools.cache
def _insert_rows_sql(vendor: str, rows: int, varying: tuple[int, ...]) -> str:
    """INSERT INTO … SELECT …, column1, … FROM (VALUES (…), (…), …) for `rows` rows: the
    `varying` columns (their indexes in _columns' order, in the order of a VALUES row's
    values) from one VALUES row each; every other column a parameter bound once for all
    the rows, before the VALUES' parameters."""
    columns, _ = _columns(vendor)
    quote = connection.ops.quote_name
    select = ", ".join(f"column{varying.index(at) + 1}" if at in varying else "%s" for at in range(len(columns)))
    values = f"({', '.join(['%s'] * len(varying))})"
    return (
        f"INSERT INTO {quote(BackgroundJob._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "
        f"SELECT {select} FROM (VALUES {', '.join([values] * rows)})"
    )


def _insert_many_sqlite(db: BaseDatabaseWrapper, template: list[Any], values: dict[str, Sequence[Any]]) -> None:
    """Rows on SQLite: `template` (one row's parameters, in _columns' order) with each
    column of `values` (its name → one value per row, every list as long), written
    ROWS_PER_INSERT rows per INSERT (fewer if the connection takes fewer parameters).
    SQLite then runs one statement per 500 rows instead of stepping a one-row statement per
    row (executemany): about a quarter less CPU per row. Only the `values` columns are
    bound per row (INSERT … SELECT from a VALUES list), the template's other columns once
    per statement: binding a parameter costs the sqlite3 module and SQLite about as much as
    writing it, so a row of the Tasks API (6 of its 30 columns vary) takes about 40 % less
    CPU than with all 30 bound per row. The statement is prepared once per connection (the
    sqlite3 module's statement cache); the rows that do not fill one are written by
    executemany."""
    columns, _ = _columns(db.vendor)
    varying = [(columns.index(name), column) for name, column in values.items()]
    varying_at = tuple(at for at, _ in varying)
    shared = [value for at, value in enumerate(template) if at not in varying_at]
    head, per_row, count = len(shared), len(varying), len(varying[0][1])
    db.ensure_connection()
    import sqlite3  # here: a worker on PostgreSQL does not load SQLite (~1 MiB)

    # The connection's own limit (Django's features say 999, SQLite's default before 3.32).
    limit = db.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    per = max(1, min(ROWS_PER_INSERT, (limit - head) // per_row))
    full = count - count % per
    for start in range(0, full, per):
        params = shared + [None] * (per * per_row)
        for k, (_, column) in enumerate(varying):
            params[head + k :: per_row] = column[start : start + per]  # every row's value of the column at once
        _execute_insert(db, _insert_rows_sql(db.vendor, per, varying_at), params)
    rest = []
    for i in range(full, count):
        row = template.copy()
        for at, column in varying:
            row[at] = column[i]
        rest.append(row)
    if rest:
        with db.cursor() as cursor:
            cursor.executemany(_insert_sql(db.vendor), rest)


@functools.cache
def _qmark(sql: str) -> str:
    return sql.replace("%s", "?")  # the sqlite3 module's placeholder (the SQL has no other %)


_PAYLOAD_FIELD = BackgroundJob._meta.get_field("payload")
_RUN_AT_FIELD = BackgroundJob._meta.get_field("run_at")
_ATTNAMES = [f.attname for f in BackgroundJob._meta.concrete_fields]
# What a new job holds in the columns enqueue leaves to their defaults, as Python values.
_PYTHON_DEFAULTS = {
    f.attname: f.get_default()
    for f in BackgroundJob._meta.concrete_fields
    if f.has_default() and not callable(f.default)
}


def _as_read_back(db: BaseDatabaseWrapper, values: dict[str, Any]) -> BackgroundJob:
    """The instance a SELECT of the new row would give (what Model.from_db builds), made
    by filling its __dict__: from_db's per-field descriptor calls cost more than the
    INSERT's Python. No pre_init / post_init receivers run for it (none are connected to
    BackgroundJob; tests/jobs/test_services.py checks the instance equals a read-back)."""
    job = BackgroundJob.__new__(BackgroundJob)
    job.__dict__.update(_PYTHON_DEFAULTS_ALL)
    job.__dict__.update(values)
    job._state = ModelState()
    job._state.adding = False
    job._state.db = db.alias
    return job


# Every column's value on a new job unless enqueue sets it: its default, else None.
_PYTHON_DEFAULTS_ALL = {attname: _PYTHON_DEFAULTS.get(attname) for attname in _ATTNAMES}


def job_enqueue(
    *,
    organization: Organization | None,
    job_type: str,
    payload: dict[str, Any] | None = None,
    priority: str | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    run_at: datetime | None = None,
    idempotency_key: str | None = None,
    created_by: str = "system",
    trigger: str = JobTrigger.SYSTEM,
    trigger_id: str | None = None,
    queue_name: str = "default",
) -> tuple[BackgroundJob, bool]:
    """Validate and queue a job; returns (job, created). Raises InvalidInput naming every
    bad field at once.

    The job acts in its organization's scope, or service-wide with no organization; the
    type must allow that scope (who may ask for a service-wide job is the caller's check:
    hcm.permissions). The same idempotency_key again (per organization) returns the
    existing job: the database's unique constraint decides (INSERT … ON CONFLICT DO
    NOTHING), so two concurrent requests cannot both insert, and a conflict does not break
    the caller's transaction. The job is written in the caller's transaction if there is
    one (its rollback leaves no job); on PostgreSQL the INSERT's trigger (migration jobs
    0005) sends the NOTIFY that wakes workers, delivered at commit.
    """
    priority_value, (clean_payload,) = _validated(
        organization=organization,
        job_type=job_type,
        priority=priority,
        max_retries=max_retries,
        payloads=[payload],
        payload_field=lambda _: "payload",
    )
    db = connections[DEFAULT_DB_ALIAS]
    now = timezone.now()
    run_at = run_at or now
    idempotency_key = idempotency_key or None
    organization_id = organization.pk if organization else None
    shared = _shared_values(
        now=now,
        db=db,
        organization_id=organization_id,
        job_type=job_type,
        priority=priority_value,
        max_retries=max_retries,
        run_at=run_at,
        idempotency_key=idempotency_key,
        trigger=trigger,
        trigger_id=trigger_id,
        created_by=created_by,
        queue_name=queue_name,
    )
    sql = _insert_sql(db.vendor, on_conflict_do_nothing=idempotency_key is not None)
    for _ in range(3):
        job_id = new_job_id()
        if _insert(db, sql, _row(shared, job_id=job_id, payload=clean_payload, db=db)):
            break
        # ON CONFLICT skipped the row: the key's job exists (committed, or just committed
        # by the concurrent request this one waited for).
        existing = BackgroundJob.objects.filter(organization=organization, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing, False
        # No such job: the conflict was on the (random) id; try another.
    else:
        raise IntegrityError(f"could not queue a {job_type} job: every attempt conflicted")
    # As if read back: the instance holds what the row holds (None for the other columns).
    job = _as_read_back(
        db,
        {
            "id": job_id,
            "organization_id": organization_id,
            "job_type": job_type,
            "priority": priority_value,
            "payload": clean_payload,
            "max_retries": max_retries,
            "run_at": run_at,
            "available_at": run_at,  # max(run_at, next_retry_at): no retry yet
            "idempotency_key": idempotency_key,
            "trigger": trigger,
            "trigger_id": trigger_id,
            "queue_name": queue_name,
            "request_id": shared["request_id"],
            "created_at": now,
            "updated_at": now,
            "created_by": created_by,
            "updated_by": created_by,
        },
    )
    if organization is not None:
        BackgroundJob.organization.field.set_cached_value(job, organization)
    if logger.isEnabledFor(logging.INFO):
        logger.info("job queued", extra={"job_id": job_id, "job_type": job_type, "outcome": "queued", "by": created_by})
    return job, True


def job_enqueue_many(
    *,
    organization: Organization | None,
    job_type: str,
    payloads: list[dict[str, Any] | None],
    priority: str | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    run_at: datetime | None = None,
    created_by: str = "system",
) -> list[str]:
    """Queue one job of `job_type` per payload in one transaction (a fan-out, an import):
    the same checks as job_enqueue (InvalidInput names the first bad payload by its index,
    `payloads[i]`), all before anything is written, without idempotency keys. Returns the
    new jobs' ids in the order of `payloads`."""
    priority_value, clean = _validated(
        organization=organization,
        job_type=job_type,
        priority=priority,
        max_retries=max_retries,
        payloads=payloads,
        payload_field=lambda index: f"payloads[{index}]",
    )
    db = connections[DEFAULT_DB_ALIAS]
    now = timezone.now()
    shared = _shared_values(
        now=now,
        db=db,
        organization_id=organization.pk if organization else None,
        job_type=job_type,
        priority=priority_value,
        max_retries=max_retries,
        run_at=run_at or now,
        trigger=JobTrigger.SYSTEM,
        created_by=created_by,
    )
    # Written in id order: the list indexes end in (created_at, id) and every job of the
    # call has the same created_at, so each index entry lands at the end of the one before
    # (SQLite: about a quarter less CPU per row than in random order).
    ids = sorted(new_job_ids(len(clean)))
    # The shared columns are converted once; per row only the id and the payload (a clean
    # payload is a plain dict: the field's conversion is its JSON text, made here directly).
    template = _row(shared, job_id="", payload={}, db=db)
    to_json, encoder = db.ops.adapt_json_value, _PAYLOAD_FIELD.encoder
    payload_texts = [to_json(payload, encoder) for payload in clean]
    with transaction.atomic():
        if db.vendor == "postgresql":
            # COPY: about three times the rows per second of executemany or multi-row
            # INSERTs here, one statement however many rows (so the NOTIFY trigger,
            # migration jobs 0005, fires once). Django's cursor has no copy(): psycopg's.
            columns, _ = _columns(db.vendor)
            id_at, payload_at = columns.index("id"), columns.index("payload")
            quote = db.ops.quote_name
            with (
                db.cursor() as cursor,
                cursor.cursor.copy(
                    f"COPY {quote(BackgroundJob._meta.db_table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
                ) as copy,
            ):
                for job_id, payload in zip(ids, payload_texts, strict=True):
                    row = template.copy()
                    row[id_at], row[payload_at] = job_id, payload
                    copy.write_row(row)
        else:
            _insert_many_sqlite(db, template, {"id": ids, "payload": payload_texts})
    if logger.isEnabledFor(logging.INFO):
        logger.info(
            "jobs queued", extra={"job_type": job_type, "count": len(ids), "outcome": "queued", "by": created_by}
        )
    return ids


def _cancelled(*, by: str) -> dict[str, Any]:
    now = timezone.now()
    return {
        "status": JobStatus.CANCELLED,
        "completed_at": now,
        "updated_by": by,
        "updated_at": now,
        "lease_expires_at": None,
    }


def _requeued(*, by: str, now: datetime) -> dict[str, Any]:
    return {
        "status": JobStatus.QUEUED,
        "retry_count": 0,
        "next_retry_at": None,
        "run_at": now,  # available_at follows: the database derives it
        "error_message": None,
        "result": None,
        "progress": 0,
        "started_at": None,
        "completed_at": None,
        "locked_by": None,
        "lease_expires_at": None,
        "updated_by": by,
        "updated_at": now,
    }


def job_cancel(*, job: BackgroundJob, by: str) -> BackgroundJob:
    """Cancel a queued or processing job. A running handler stops at its next progress
    check; its late result is discarded (the worker's writes are fenced on status)."""
    updated = BackgroundJob.objects.filter(pk=job.pk, status__in=CANCELLABLE).update(**_cancelled(by=by))
    job.refresh_from_db()
    if not updated:
        raise JobStateError(f"Job {job.pk} is {job.status}; only queued or processing jobs can be cancelled.")
    logger.info("job cancelled", extra={"job_id": job.id, "job_type": job.job_type, "outcome": "cancelled", "by": by})
    return job


def job_retry(*, job: BackgroundJob, by: str) -> BackgroundJob:
    """Queue a failed or cancelled job again, now, with its retries reset."""
    now = timezone.now()
    with transaction.atomic():
        updated = BackgroundJob.objects.filter(pk=job.pk, status__in=RETRYABLE).update(**_requeued(by=by, now=now))
        if updated:
            _notify_workers(job.job_type)
    job.refresh_from_db()
    if not updated:
        raise JobStateError(f"Job {job.pk} is {job.status}; only failed or cancelled jobs can be retried.")
    logger.info("job retried", extra={"job_id": job.id, "job_type": job.job_type, "outcome": "queued", "by": by})
    return job


def job_run_now(*, job: BackgroundJob, by: str) -> BackgroundJob:
    """Make a queued job due immediately (skip its run_at or retry wait)."""
    now = timezone.now()
    with transaction.atomic():
        updated = BackgroundJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
            run_at=now, next_retry_at=None, updated_by=by, updated_at=now
        )
        if updated:
            _notify_workers(job.job_type)
    job.refresh_from_db()
    if not updated:
        raise JobStateError(f"Job {job.pk} is {job.status}; only queued jobs can be run now.")
    return job


def _pausable(job_type: str) -> None:
    if get_job_type(job_type) is None:
        raise InvalidInput({"job_type": [unknown_job_type_message(job_type, job_type_names())]})


def job_type_pause(*, job_type: str, organization: Organization | None, by: str) -> JobTypePause:
    """Hold the type's queued jobs: the organization's, or every organization's when
    `organization` is None (service-wide). Pausing again keeps the first pause."""
    _pausable(job_type)
    paused, _ = JobTypePause.objects.get_or_create(
        job_type=job_type, organization=organization, defaults={"paused_by": by}
    )
    logger.info(
        "job type paused",
        extra={"job_type": job_type, "organization_id": organization.pk if organization else None, "by": by},
    )
    return paused


def job_type_resume(*, job_type: str, organization: Organization | None, by: str) -> bool:
    """Lift that pause (an organization's own, or the service-wide one); True if there was one."""
    _pausable(job_type)
    with transaction.atomic():
        deleted, _ = JobTypePause.objects.filter(job_type=job_type, organization=organization).delete()
        _notify_workers(job_type)
    logger.info(
        "job type resumed",
        extra={"job_type": job_type, "organization_id": organization.pk if organization else None, "by": by},
    )
    return bool(deleted)


# --- Bulk, by filter (the admin's "every job matching this filter") ----------------------
# Each batch is its own short transaction over at most `batch_size` primary keys, walked in
# key order, so 100,000 rows neither time out one request's statement nor hold row locks
# for long; every UPDATE re-checks the status, so a job that changed meanwhile is skipped.


def _batches(queryset: QuerySet[BackgroundJob], batch_size: int) -> Iterator[list[str]]:
    last = None
    while True:
        page = queryset.order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        ids = list(page.values_list("pk", flat=True)[:batch_size])
        if not ids:
            return
        last = ids[-1]
        yield ids


def jobs_retry_matching(*, queryset: QuerySet[BackgroundJob], by: str, batch_size: int = BULK_BATCH_SIZE) -> int:
    """Queue again every failed or cancelled job of `queryset`; returns how many."""
    done = 0
    for ids in _batches(queryset.filter(status__in=RETRYABLE), batch_size):
        with transaction.atomic():
            rows = BackgroundJob.objects.filter(pk__in=ids, status__in=RETRYABLE)
            types = set(rows.values_list("job_type", flat=True).distinct())
            done += rows.update(**_requeued(by=by, now=timezone.now()))
            for job_type in types:
                _notify_workers(job_type)
    logger.info("jobs retried by filter", extra={"count": done, "outcome": "queued", "by": by})
    return done


def jobs_cancel_matching(*, queryset: QuerySet[BackgroundJob], by: str, batch_size: int = BULK_BATCH_SIZE) -> int:
    """Cancel every queued job of `queryset` (running ones are left to finish); returns how many."""
    done = 0
    for ids in _batches(queryset.filter(status=JobStatus.QUEUED), batch_size):
        with transaction.atomic():
            done += BackgroundJob.objects.filter(pk__in=ids, status=JobStatus.QUEUED).update(**_cancelled(by=by))
    logger.info("jobs cancelled by filter", extra={"count": done, "outcome": "cancelled", "by": by})
    return done


def jobs_finished_before(queryset: QuerySet[BackgroundJob], *, days: int) -> QuerySet[BackgroundJob]:
    """The finished jobs of `queryset` that finished more than `days` days ago."""
    return queryset.filter(status__in=FINISHED_STATUSES, completed_at__lt=timezone.now() - timedelta(days=days))


def jobs_delete_finished_matching(
    *, queryset: QuerySet[BackgroundJob], older_than_days: int, by: str, batch_size: int = BULK_BATCH_SIZE
) -> int:
    """Delete the finished jobs of `queryset` older than `older_than_days` (their attempts
    with them); returns how many jobs."""
    if older_than_days < 0:
        raise InvalidInput({"days": ["Must be 0 or more."]})
    done = 0
    for ids in _batches(jobs_finished_before(queryset, days=older_than_days), batch_size):
        with transaction.atomic():
            _, per_model = BackgroundJob.objects.filter(pk__in=ids, status__in=FINISHED_STATUSES).delete()
            done += per_model.get(BackgroundJob._meta.label, 0)
    logger.info("finished jobs deleted by filter", extra={"count": done, "outcome": "deleted", "by": by})
    return done
