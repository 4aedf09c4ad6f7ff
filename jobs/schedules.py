"""Recurring schedules: create, change, delete, and enqueue the ticks that are due.

Exactly once, with any number of workers: a worker takes a tick by moving the schedule's
`next_run_at` from that tick to the next one with a compare-and-set UPDATE, and enqueues
the job in the same transaction; a worker whose UPDATE matches no row lost the race. The
job's idempotency key (`schedule:<id>:<tick in UTC>`) is a second guard: the same tick
cannot become two jobs even if a stale write moved `next_run_at` back.

After downtime only the first missed tick runs; the schedule then continues at its next
tick after now. Ticks are read in the schedule's timezone (DST rules: jobs/cron.py).
"""

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils.timezone import now as current_time

from hcm.exceptions import InvalidInput
from hcm.models import Organization
from jobs.cron import InvalidCron, cron_normalize, next_tick, timezone_get
from jobs.models import BackgroundJob, JobPriority, JobSchedule
from jobs.registry import get_job_type, job_scope, job_type_names, unknown_job_type_message
from jobs.services import job_enqueue

logger = logging.getLogger("jobs.schedules")

# What a person may set; the rest belongs to the scheduler or the audit trail.
EDITABLE_FIELDS = ("name", "job_type", "payload", "priority", "cron_expression", "timezone", "enabled")
# What the job of each tick is and when: checked whenever one of them changes.
_JOB_FIELDS = {"job_type", "payload", "cron_expression", "timezone", "priority"}
# A change to any of these moves next_run_at to the first tick after the change.
_RESCHEDULING_FIELDS = {"cron_expression", "timezone", "enabled"}

# Schedules whose job type this process does not know, already warned about (per tick).
_warned_unknown: set[tuple[str, datetime]] = set()


def job_schedule_validate(
    *,
    job_type: str,
    payload: Any,
    cron_expression: str,
    timezone: str,
    priority: str | None,
    organization_id: str | None,
) -> dict[str, Any]:
    """The cleaned values, or InvalidInput naming every bad field.

    A schedule's jobs act in its scope: its organization's, or service-wide without one;
    the job type must allow that scope. The one place these rules live: the API and the
    admin both call it.
    """
    errors: dict[str, Any] = {}
    clean: dict[str, Any] = {"job_type": job_type, "timezone": timezone, "priority": priority}
    spec = get_job_type(job_type)
    scope = job_scope(organization_id)
    if spec is None:
        errors["job_type"] = [unknown_job_type_message(job_type, job_type_names())]
    elif not spec.allows(scope) or spec.internal:
        errors["job_type"] = [
            f"{job_type} cannot be scheduled in scope {scope!r} (it allows: {', '.join(sorted(spec.scopes))})."
        ]
    else:
        try:
            clean["payload"] = spec.validate_payload(payload, scope=scope)
        except InvalidInput as exc:
            errors.update(exc.errors)
    try:
        clean["cron_expression"] = cron_normalize(cron_expression)
    except InvalidCron as exc:
        errors["cron_expression"] = [str(exc)]
    try:
        timezone_get(timezone)
    except ValueError as exc:
        errors["timezone"] = [str(exc)]
    if priority is not None and priority not in JobPriority.labels:
        errors["priority"] = [f"Must be one of {', '.join(JobPriority.labels)}, or null for the job type's default."]
    if errors:
        raise InvalidInput(errors)
    return clean


def _first_tick(schedule: JobSchedule, *, now: datetime) -> datetime | None:
    if not schedule.enabled:
        return None
    return next_tick(schedule.cron_expression, timezone_get(schedule.timezone), after=now)


def job_schedules_visible(*, organization: Organization) -> QuerySet[JobSchedule]:
    """What an organization's admins see: their schedules and the service-wide ones."""
    return JobSchedule.objects.filter(Q(organization=organization) | Q(organization__isnull=True)).order_by(
        "name", "id"
    )


def _name_taken(*, organization: Organization | None, name: str, exclude_id: str | None = None) -> bool:
    return JobSchedule.objects.filter(organization=organization, name=name).exclude(pk=exclude_id).exists()


def _name_error(name: str) -> InvalidInput:
    return InvalidInput({"name": [f"A schedule named {name!r} already exists."]})


def job_schedule_create(
    *,
    organization: Organization | None,
    name: str,
    job_type: str,
    cron_expression: str,
    payload: dict[str, Any] | None = None,
    priority: str | None = None,
    timezone: str = "UTC",
    enabled: bool = True,
    created_by: str,
    now: datetime | None = None,
) -> JobSchedule:
    """Validate and save a schedule; its first tick is the first one after now."""
    now = now or current_time()
    clean = job_schedule_validate(
        job_type=job_type,
        payload=payload,
        cron_expression=cron_expression,
        timezone=timezone,
        priority=priority,
        organization_id=organization.pk if organization else None,
    )
    schedule = JobSchedule(
        organization=organization,
        name=name,
        job_type=clean["job_type"],
        payload=clean["payload"],
        priority=None if priority is None else JobPriority.from_name(priority),
        cron_expression=clean["cron_expression"],
        timezone=timezone,
        enabled=enabled,
        created_at=now,
        created_by=created_by,
        updated_by=created_by,
    )
    schedule.next_run_at = _first_tick(schedule, now=now)
    if _name_taken(organization=organization, name=name):
        raise _name_error(name)
    try:
        with transaction.atomic():
            schedule.save(force_insert=True)
    except IntegrityError:
        raise _name_error(name)
    logger.info("schedule created", extra=_log_fields(schedule, by=created_by))
    return schedule


def job_schedule_update(
    *, schedule: JobSchedule, changes: Mapping[str, Any], updated_by: str, now: datetime | None = None
) -> JobSchedule:
    """Apply `changes` (a subset of EDITABLE_FIELDS, `priority` as a name) and save them.

    Writes only the changed columns, so a worker advancing next_run_at at the same time
    is not overwritten, unless the change itself reschedules. Renaming or disabling a
    schedule whose job type is no longer registered is allowed; anything else is validated.
    """
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise InvalidInput({name: ["Not editable."] for name in unknown})
    now = now or current_time()
    current = {field: getattr(schedule, field) for field in EDITABLE_FIELDS} | {"priority": schedule.priority_name}
    proposed = current | dict(changes)
    differs = {field for field in EDITABLE_FIELDS if proposed[field] != current[field]}
    if differs & _JOB_FIELDS or (proposed["enabled"] and "enabled" in differs):
        clean = job_schedule_validate(
            **{field: proposed[field] for field in _JOB_FIELDS}, organization_id=schedule.organization_id
        )
        proposed.update(payload=clean["payload"], cron_expression=clean["cron_expression"])
    priority = proposed["priority"]
    new_values = proposed | {
        "priority": None if priority is None else JobPriority.from_name(priority),
        "enabled": bool(proposed["enabled"]),
    }
    changed = [field for field in EDITABLE_FIELDS if getattr(schedule, field) != new_values[field]]
    if "name" in changed and _name_taken(
        organization=schedule.organization, name=new_values["name"], exclude_id=schedule.pk
    ):
        raise _name_error(new_values["name"])
    for field in changed:
        setattr(schedule, field, new_values[field])
    update_fields = [*changed, "updated_at", "updated_by"]
    if _RESCHEDULING_FIELDS & set(changed):
        schedule.next_run_at = _first_tick(schedule, now=now)
        update_fields.append("next_run_at")
    schedule.updated_by = updated_by
    try:
        with transaction.atomic():
            schedule.save(update_fields=update_fields)
    except IntegrityError:
        raise _name_error(new_values["name"])
    logger.info("schedule updated", extra={**_log_fields(schedule, by=updated_by), "changed": ",".join(changed)})
    return schedule


def job_schedule_delete(*, schedule: JobSchedule, deleted_by: str) -> None:
    """Delete the schedule; jobs it already queued stay queued."""
    fields = _log_fields(schedule, by=deleted_by)
    schedule.delete()
    logger.info("schedule deleted", extra=fields)


def job_schedule_run_now(*, schedule: JobSchedule, by: str) -> BackgroundJob:
    """Queue the schedule's job now, outside its ticks (next_run_at is unchanged)."""
    job, _ = job_enqueue(
        organization=schedule.organization,
        job_type=schedule.job_type,
        payload=schedule.payload,
        priority=schedule.priority_name,
        created_by=by,
    )
    logger.info("schedule run now", extra={**_log_fields(schedule, by=by), "job_id": job.id})
    return job


def job_schedules_enqueue_due(*, now: datetime | None = None, limit: int = 100) -> list[BackgroundJob]:
    """Enqueue every due tick once; safe to call from any number of workers at once.

    Returns the jobs this call queued. Called on every worker heartbeat, so the common
    case (nothing due) is one indexed read and no write.
    """
    now = now or current_time()
    due = list(
        JobSchedule.objects.filter(Q(next_run_at__lte=now) | Q(next_run_at__isnull=True), enabled=True)
        .select_related("organization")
        .order_by("next_run_at")[:limit]
    )
    queued: list[BackgroundJob] = []
    for schedule in due:
        try:
            job = _take_tick(schedule, now=now)
        except DatabaseError:
            raise  # the worker's loop backs off and reconnects
        except Exception:
            # One broken schedule (e.g. a cron expression edited in the database) must not
            # stop the others, nor the worker.
            logger.exception("schedule tick failed", extra=_log_fields(schedule))
            continue
        if job is not None:
            queued.append(job)
    return queued


def _take_tick(schedule: JobSchedule, *, now: datetime) -> BackgroundJob | None:
    tz = timezone_get(schedule.timezone)
    tick = schedule.next_run_at
    if tick is None:
        # Created without a first tick (the default maintenance schedules): start at the
        # next tick, don't run now.
        JobSchedule.objects.filter(pk=schedule.pk, enabled=True, next_run_at__isnull=True).update(
            next_run_at=next_tick(schedule.cron_expression, tz, after=now)
        )
        return None
    if get_job_type(schedule.job_type) is None:
        # Not advanced: a worker that knows the job type (or this one, after a deploy)
        # still runs the tick.
        if (schedule.pk, tick) not in _warned_unknown:
            _warned_unknown.add((schedule.pk, tick))
            logger.warning(
                "schedule skipped: job type not registered in this worker",
                extra={**_log_fields(schedule), "tick": _iso(tick)},
            )
        return None
    following = next_tick(schedule.cron_expression, tz, after=now)
    with transaction.atomic():
        won = JobSchedule.objects.filter(pk=schedule.pk, enabled=True, next_run_at=tick).update(
            next_run_at=following, last_run_at=tick
        )
        if not won:
            return None  # another worker took this tick, or the schedule was just changed
        try:
            job, created = job_enqueue(
                organization=schedule.organization,
                job_type=schedule.job_type,
                payload=schedule.payload,
                priority=schedule.priority_name,
                run_at=tick,
                idempotency_key=f"schedule:{schedule.pk}:{_iso(tick)}",
                created_by=f"schedule:{schedule.name}"[:150],
            )
        except InvalidInput as exc:
            # The payload no longer fits the job type: this tick is skipped (the schedule
            # still advances, or it would fail on every heartbeat); editing it fixes it.
            logger.error(
                "schedule tick skipped: invalid payload",
                extra={**_log_fields(schedule), "tick": _iso(tick), "error": str(exc)[:500]},
            )
            return None
        JobSchedule.objects.filter(pk=schedule.pk).update(last_job_id=job.id)
    missed = following > next_tick(schedule.cron_expression, tz, after=tick)
    logger.info(
        "schedule tick queued",
        extra={
            **_log_fields(schedule),
            "tick": _iso(tick),
            "job_id": job.id,
            "next_run_at": _iso(following),
            "skipped_missed_ticks": missed,
        },
    )
    return job if created else None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _log_fields(schedule: JobSchedule, *, by: str | None = None) -> dict[str, Any]:
    fields = {
        "schedule_id": schedule.pk,
        "schedule": schedule.name,
        "job_type": schedule.job_type,
        "organization_id": schedule.organization_id or "-",
    }
    if by is not None:
        fields["by"] = by
    return fields
