"""The background_jobs table, one row per attempt, and one heartbeat row per worker."""

import secrets
from typing import Any

from django.db import models
from django.db.models import Case, F, Q, When
from django.utils import timezone

from hcm.models import Organization


def new_job_id() -> str:
    return "job_" + secrets.token_hex(8)


def new_job_ids(n: int) -> list[str]:
    """n ids as new_job_id makes them, from one read of the system's random source."""
    hex_digits = secrets.token_hex(8 * n)
    return ["job_" + hex_digits[i : i + 16] for i in range(0, 16 * n, 16)]


class JobStatus(models.TextChoices):
    """queued → processing → completed | failed; queued/processing → cancelled.

    A failed attempt with retries left goes back to queued with next_retry_at set.
    """

    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)

# Retries a job gets unless its enqueue says otherwise (API, services, Tasks API, a send batch's hand-on).
DEFAULT_MAX_RETRIES = 3


class JobPriority(models.IntegerChoices):
    """Stored as the seed's integers so the claim query orders by an index (high first)."""

    LOW = -1, "low"
    MEDIUM = 0, "medium"
    HIGH = 1, "high"

    @classmethod
    def from_name(cls, name: str) -> "JobPriority":
        return {p.label: p for p in cls}[name]


class JobTrigger(models.TextChoices):
    """What made the job (seed 004's job log `triggeredBy`); `trigger_id` says which."""

    USER = "user", "A user (trigger_id: the username)"
    SCHEDULE = "schedule", "A schedule (trigger_id: its id)"
    SYSTEM = "system", "The system"
    RETRY = "retry", "A retry of another job (trigger_id: that job's id)"


class BackgroundJob(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=new_job_id, editable=False)
    # No index of its own: bg_jobs_org_created_idx starts with it (one index fewer for every
    # enqueue to write; bench/enqueue_costs.py).
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="background_jobs",
        db_index=False,
    )
    job_type = models.CharField(max_length=100)
    status = models.CharField(max_length=20, choices=JobStatus.choices, default=JobStatus.QUEUED)
    priority = models.SmallIntegerField(choices=JobPriority.choices, default=JobPriority.MEDIUM)
    payload = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    error_message = models.TextField(null=True, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    # The job log (seed 004): what the last run worked through, as its handler counted it
    # (null for handlers that do not count items), and what triggered the job.
    processed = models.PositiveIntegerField(null=True, blank=True)
    succeeded = models.PositiveIntegerField(null=True, blank=True)
    failed = models.PositiveIntegerField(null=True, blank=True)
    trigger = models.CharField(max_length=10, choices=JobTrigger.choices, default=JobTrigger.SYSTEM)
    trigger_id = models.CharField(max_length=150, null=True, blank=True)

    retry_count = models.PositiveIntegerField(default=0, help_text="Failed attempts so far.")
    max_retries = models.PositiveSmallIntegerField(default=DEFAULT_MAX_RETRIES)
    run_at = models.DateTimeField(default=timezone.now, help_text="Not before this time.")
    next_retry_at = models.DateTimeField(null=True, blank=True)
    # max(run_at, next_retry_at), the one column the claim query filters on. The database
    # derives it, so a run_at or next_retry_at written any way (admin, update(), a raw
    # INSERT) decides when the job is due.
    available_at = models.GeneratedField(
        expression=Case(When(next_retry_at__gt=F("run_at"), then=F("next_retry_at")), default=F("run_at")),
        output_field=models.DateTimeField(),
        db_persist=True,
    )
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    # Django Tasks queue name (`runworker --queues` takes only these); "default" otherwise.
    queue_name = models.CharField(max_length=100, default="default", db_default="default")
    # X-Request-ID of the web request that queued the job: the worker logs it on its lines.
    request_id = models.CharField(max_length=128, null=True, blank=True, editable=False)

    # Owned by the worker holding the job; every write after the claim is fenced on
    # (locked_by, attempt) so a worker presumed dead cannot overwrite a job taken over.
    attempt = models.PositiveIntegerField(default=0, help_text="Times claimed by a worker.")
    locked_by = models.CharField(max_length=200, null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.CharField(max_length=150, default="system")
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=150, default="system")

    class Meta:
        db_table = "background_jobs"
        ordering = ["-created_at"]
        indexes = [
            # The claim query: due queued jobs, high priority first, then oldest.
            models.Index(
                F("priority").desc(),
                "created_at",
                name="bg_jobs_claim_idx",
                condition=Q(status="queued"),
            ),
            models.Index(fields=["status", "available_at"], name="bg_jobs_due_idx"),
            models.Index(fields=["lease_expires_at"], name="bg_jobs_lease_idx", condition=Q(status="processing")),
            # Finished jobs by when they finished: retention's batched deletes and the
            # console's "failed in the last hour / day" read a short range, not every row.
            models.Index(fields=["status", "completed_at"], name="bg_jobs_finished_idx"),
            # The API's list, in its order (-created_at, -id): a page (and a cursor's next
            # page) is a short index range read backwards, never a sort. Three indexes serve
            # every filter combination: a filter that leaves one of an index's leading
            # columns open reads one range per value of that column (a handful of statuses
            # and priorities) and merges them (jobs.selectors.job_list_ranges). Each list
            # index costs every enqueue a page write (bench/enqueue_costs.py): one per
            # combination cost seven. Ascending, so that a new job is appended at the end of
            # its range: a descending index puts it first, and SQLite rebalances three
            # pages (instead of one) each time that first page fills.
            models.Index(fields=["organization", "created_at", "id"], name="bg_jobs_org_created_idx"),
            # available_at last: /stats' queue figures (due, scheduled, oldest due) and its
            # live count of queued / processing jobs read this index alone.
            models.Index(
                fields=["organization", "status", "priority", "created_at", "id", "job_type", "available_at"],
                name="bg_jobs_org_status_idx",
            ),
            models.Index(
                fields=["organization", "job_type", "status", "priority", "created_at", "id"],
                name="bg_jobs_org_type_idx",
            ),
            # The admin's job list: newest first (read backwards), and the exact
            # idempotency-key search.
            models.Index(fields=["created_at"], name="bg_jobs_created_at_idx"),
            models.Index(
                fields=["idempotency_key"],
                name="bg_jobs_idempotency_key_idx",
                condition=Q(idempotency_key__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"],
                name="bg_jobs_idempotency_key_uniq",
                condition=Q(idempotency_key__isnull=False),
            ),
            # NULLs are distinct in the constraint above: service-wide jobs (no organization,
            # e.g. schedule ticks of maintenance jobs) need their own.
            models.UniqueConstraint(
                fields=["idempotency_key"],
                name="bg_jobs_service_idempotency_key_uniq",
                condition=Q(organization__isnull=True, idempotency_key__isnull=False),
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="bg_jobs_progress_range"),
            models.CheckConstraint(condition=Q(max_retries__lte=10), name="bg_jobs_max_retries_range"),
            models.CheckConstraint(condition=Q(status__in=JobStatus.values), name="bg_jobs_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.job_type}, {self.status})"

    @property
    def priority_name(self) -> str:
        return JobPriority(self.priority).label


class AttemptOutcome(models.TextChoices):
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    TIMEOUT = "timeout", "Timed out"
    CANCELLED = "cancelled", "Cancelled while running"
    LEASE_EXPIRED = "lease_expired", "Worker lost (lease expired)"
    HANDED_BACK = "handed_back", "Handed back at shutdown"


class JobAttempt(models.Model):
    """The job event log: one row per attempt, written when the attempt ends."""

    job = models.ForeignKey(BackgroundJob, on_delete=models.CASCADE, related_name="attempts")
    attempt = models.PositiveIntegerField()
    worker_id = models.CharField(max_length=200)
    job_type = models.CharField(max_length=100)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    duration_ms = models.FloatField()
    outcome = models.CharField(max_length=20, choices=AttemptOutcome.choices)
    error_message = models.TextField(null=True, blank=True)
    traceback = models.TextField(null=True, blank=True)

    class Meta:
        db_table = "background_job_attempts"
        ordering = ["job", "attempt"]
        indexes = [
            models.Index(fields=["job_type", "finished_at"], name="bg_attempts_type_time_idx"),
            models.Index(fields=["finished_at"], name="bg_attempts_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id} attempt {self.attempt}: {self.outcome}"


class WorkerHeartbeat(models.Model):
    worker_id = models.CharField(primary_key=True, max_length=200)
    hostname = models.CharField(max_length=200)
    pid = models.PositiveIntegerField()
    concurrency = models.PositiveSmallIntegerField(default=1)
    job_types = models.JSONField(null=True, blank=True, help_text="Null: every type.")
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    jobs_done = models.PositiveBigIntegerField(default=0)
    jobs_failed = models.PositiveBigIntegerField(default=0)

    class Meta:
        db_table = "background_job_workers"
        ordering = ["-last_seen_at"]

    def __str__(self) -> str:
        return self.worker_id

    def as_dict(self) -> dict[str, Any]:
        return {
            "worker_id": self.worker_id,
            "hostname": self.hostname,
            "pid": self.pid,
            "concurrency": self.concurrency,
            "job_types": self.job_types,
            "started_at": self.started_at,
            "last_seen_at": self.last_seen_at,
            "stopped_at": self.stopped_at,
            "jobs_done": self.jobs_done,
            "jobs_failed": self.jobs_failed,
        }


class JobTypePause(models.Model):
    """A paused job type: its queued jobs stay queued, untouched, until it is resumed.

    With an organization, only that organization's jobs wait (an organization admin's
    pause); without one, every organization's jobs of the type wait (a service-wide pause,
    a platform operator's action).
    """

    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="job_type_pauses"
    )
    job_type = models.CharField(max_length=100)
    paused_at = models.DateTimeField(default=timezone.now)
    paused_by = models.CharField(max_length=150, default="system")

    class Meta:
        db_table = "background_job_pauses"
        ordering = ["job_type", "organization"]
        indexes = [models.Index(fields=["job_type", "organization"], name="bg_pauses_type_org_idx")]
        constraints = [
            models.UniqueConstraint(fields=["organization", "job_type"], name="bg_pauses_org_type_uniq"),
            # NULLs are distinct in the constraint above: one service-wide pause per type.
            models.UniqueConstraint(
                fields=["job_type"], name="bg_pauses_service_type_uniq", condition=Q(organization__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.job_type} (paused {'for ' + str(self.organization_id) if self.organization_id else 'service-wide'})"
        )

    @property
    def scope(self) -> str:
        return "organization" if self.organization_id else "service"


def new_schedule_id() -> str:
    return "sch_" + secrets.token_hex(8)


_now = timezone.now  # JobSchedule has a field called `timezone`, which hides the module in its body


class JobSchedule(models.Model):
    """A job enqueued on every tick of a cron expression, read in the schedule's timezone.

    `next_run_at` is the next tick not yet enqueued; the worker that advances it (a
    compare-and-set on its old value) is the one that enqueues that tick (jobs/schedules.py).
    An organization of None is service-wide maintenance, managed in the admin.
    """

    id = models.CharField(primary_key=True, max_length=40, default=new_schedule_id, editable=False)
    name = models.CharField(max_length=100)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="job_schedules"
    )
    job_type = models.CharField(max_length=100)
    payload = models.JSONField(default=dict, blank=True)
    priority = models.SmallIntegerField(
        choices=JobPriority.choices, null=True, blank=True, help_text="Empty: the job type's default priority."
    )
    cron_expression = models.CharField(
        max_length=100, help_text="Five fields: minute hour day-of-month month day-of-week, or @daily, @hourly, …"
    )
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA zone the cron expression is read in.")
    enabled = models.BooleanField(default=True)

    # Owned by the scheduler: the tick last enqueued and the next one due (None while
    # disabled, or until a worker first sees a schedule created without one).
    last_run_at = models.DateTimeField(null=True, blank=True, help_text="The tick last enqueued.")
    last_job_id = models.CharField(max_length=40, null=True, blank=True, help_text="The job of that tick.")
    next_run_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=_now, editable=False)
    created_by = models.CharField(max_length=150, default="system")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=150, default="system")

    class Meta:
        db_table = "background_job_schedules"
        ordering = ["name"]
        indexes = [
            models.Index(fields=["next_run_at"], name="bg_schedules_due_idx", condition=Q(enabled=True)),
        ]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="bg_schedules_org_name_uniq"),
            # NULLs are distinct in a unique constraint: service-wide names need their own.
            models.UniqueConstraint(
                fields=["name"], name="bg_schedules_service_name_uniq", condition=Q(organization__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def priority_name(self) -> str | None:
        return None if self.priority is None else JobPriority(self.priority).label


class JobStatusCount(models.Model):
    """Jobs per (organization, job type, status): what /stats reads instead of counting
    every job. Kept by database triggers on background_jobs (jobs/stats_figures.py,
    migration 0013); never written by application code.

    On PostgreSQL a key may have several rows (a ledger of deltas; the figure is their
    sum) until compact_figures folds them. organization_id is '' for service-wide jobs and
    is no foreign key: an organization's deletion removes its jobs first, and their
    triggers must be able to write here while it goes.
    """

    organization_id = models.CharField(max_length=40, blank=True, default="")
    job_type = models.CharField(max_length=100)
    status = models.CharField(max_length=20)
    n = models.BigIntegerField()

    class Meta:
        db_table = "background_job_counts"
        # Its index is made by migration 0013: unique on SQLite (the upsert's key), not on
        # PostgreSQL (the ledger repeats keys).

    def __str__(self) -> str:
        return f"{self.organization_id or 'service'} {self.job_type} {self.status}: {self.n}"


class JobDurationFigure(models.Model):
    """Attempts per (organization, job type, hour finished, duration bucket): runs,
    completed runs and summed duration, for /stats' 7-day summary and its p95. Kept like
    JobStatusCount, by triggers on background_job_attempts."""

    organization_id = models.CharField(max_length=40, blank=True, default="")
    job_type = models.CharField(max_length=100)
    hour = models.DateTimeField()
    bucket = models.SmallIntegerField(help_text="Index into jobs.stats_figures.BUCKET_EDGES_MS.")
    runs = models.BigIntegerField()
    succeeded = models.BigIntegerField()
    total_ms = models.FloatField()

    class Meta:
        db_table = "background_job_durations"

    def __str__(self) -> str:
        where = self.organization_id or "service"
        return f"{where} {self.job_type} {self.hour:%Y-%m-%d %H}h #{self.bucket}: {self.runs}"
