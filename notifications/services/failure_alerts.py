"""Failure alerts (seeds 002 and 004): a job that fails for good tells its organization's
system admins through the notification center (`job_failed` event), over the channels the
organization's settings allow (email_on_job_failed, slack_on_job_failed); a service-wide
job tells the platform operators (active superusers) by email.

A storm of failures of one type sends one alert per organization and job type per
ALERT_WINDOW, counting the failures since the previous alert. An alert's own failure
(its job, or the delivery of any notification, job_failed included) never raises an alert:
a failed delivery is recorded on the delivery and falls back to email.
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings as django_settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from hcm.models import Organization, User
from jobs.hooks import FailedJob
from jobs.services import job_enqueue
from notifications.job_types import ALERT_JOB_TYPE
from notifications.models import JobFailureAlert
from notifications.services.notify import notify

logger = logging.getLogger(__name__)

ALERT_EVENT = "job_failed"
ALERT_WINDOW = timedelta(minutes=15)
ERROR_MAX_CHARS = 2000
# Never alerted about: an alert that failed (no alert loops), and a notification delivery,
# whose failure is the delivery's own state (failed, with its error) and falls back to email.
QUIET_JOB_TYPES = frozenset({ALERT_JOB_TYPE, "notification_send", "notification_send_batch"})


def on_job_failed(failed: FailedJob) -> None:
    """The jobs engine's hook (runs on the worker's main thread): queue the alert job,
    once per failed job. The alert itself is sent by that job."""
    if failed.job_type in QUIET_JOB_TYPES:
        return
    job_enqueue(
        organization=organization_id_only(failed.organization_id),
        job_type=ALERT_JOB_TYPE,
        payload={"job_id": failed.id},
        priority="high",
        idempotency_key=f"failure-alert:{failed.id}:{failed.attempts}",
        trigger="system",
        trigger_id=failed.id,
    )


def organization_id_only(organization_id: str | None) -> Organization | None:
    # job_enqueue takes an Organization; the id is all it needs for the foreign key.
    return Organization(pk=organization_id) if organization_id else None


def job_failure_alert(
    *, job_id: str, organization_id: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Alert about one failed job (of `organization_id`'s, when given: an alert job acts
    in its own organization only), or count it into the open window. Returns what it did."""
    from jobs.models import BackgroundJob, JobStatus

    jobs = BackgroundJob.objects.select_related("organization").filter(pk=job_id)
    if organization_id is not None:
        jobs = jobs.filter(organization_id=organization_id)
    job = jobs.first()
    if job is None or job.status != JobStatus.FAILED:
        return {"job_id": job_id, "alerted": False, "reason": "job is gone or no longer failed"}
    if job.job_type in QUIET_JOB_TYPES:
        return {"job_id": job_id, "alerted": False, "reason": f"{job.job_type} failures do not alert"}
    now = now or timezone.now()
    count = _take_window(job, now=now)
    if count is None:
        return {"job_id": job_id, "alerted": False, "reason": "counted into the open alert window"}
    data = {
        "job_id": job.id,
        "job_type": job.job_type,
        "error": (job.error_message or "")[:ERROR_MAX_CHARS],
        "attempts": job.attempt,
        "count": count,
    }
    if job.organization is not None:
        result = notify(job.organization, ALERT_EVENT, data=data, created_by="system")
        sent_to = len(result.notifications)
    else:
        sent_to = _alert_operators(data)
    logger.warning(
        "job failure alert sent",
        extra={"job_id": job.id, "job_type": job.job_type, "count": count, "recipients": sent_to},
    )
    return {"job_id": job_id, "alerted": True, "count": count, "recipients": sent_to}


def _take_window(job, *, now: datetime) -> int | None:
    """The count to report if this failure opens a new alert window, else None (counted)."""
    key = {"organization_id": job.organization_id, "job_type": job.job_type}
    with transaction.atomic():
        row = JobFailureAlert.objects.select_for_update().filter(**key).first()
        if row is None:
            try:
                with transaction.atomic():
                    JobFailureAlert.objects.create(**key, window_started_at=now, last_job_id=job.id, alerts_sent=1)
                return 1
            except IntegrityError:  # another worker opened it first: count into its window
                row = JobFailureAlert.objects.select_for_update().get(**key)
        row.last_job_id = job.id
        if now - row.window_started_at < ALERT_WINDOW:
            row.unreported += 1
            row.save(update_fields=["unreported", "last_job_id"])
            return None
        count = row.unreported + 1
        row.window_started_at, row.unreported, row.alerts_sent = now, 0, row.alerts_sent + 1
        row.save(update_fields=["window_started_at", "unreported", "alerts_sent", "last_job_id"])
        return count


def _alert_operators(data: dict[str, Any]) -> int:
    """A service-wide job: email the platform operators (active superusers with an address)."""
    recipients = list(
        User.objects.filter(is_superuser=True, is_active=True).exclude(email="").values_list("email", flat=True)
    )
    if not recipients:
        logger.error("service job failed and no platform operator has an email address", extra=data)
        return 0
    count = f" ({data['count']} failures since the last alert)" if data["count"] > 1 else ""
    send_mail(
        subject=f"Service job failed: {data['job_type']}{count}",
        message=(
            f"Job {data['job_id']} ({data['job_type']}) failed after {data['attempts']} attempt(s){count}.\n\n"
            f"Error: {data['error']}\n"
        ),
        from_email=django_settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
        fail_silently=False,
    )
    return len(recipients)
