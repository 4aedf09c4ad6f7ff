"""A batch of deliveries sent by one notification_send_batch job (a fan-out's emails).

One job per NOTIFICATIONS_SEND_BATCH_SIZE deliveries instead of one each: one claim, one
query loads them, each channel's connection is reused from message to message, and the
sent ones are recorded with one UPDATE (plus their notifications' status, batched).

A batch sends only the deliveries it owns (job_id = the batch job) that are still queued
or deferred, so running it again (a lost worker's lease expired, a retry after a crash)
skips what is settled and what it handed on. Per delivery, as a notification_send job
would: a permanent error fails it (and falls back to email as the rule says); a
transient one is not retried by the batch — that delivery gets a notification_send job
of its own, due after the job system's backoff, which retries it, gives up, and is what
the admin and a resend show. The batch job itself completes.
"""

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Case, CharField, F, Value, When
from django.utils import timezone

from jobs.errors import PermanentJobError
from jobs.models import DEFAULT_MAX_RETRIES, BackgroundJob, JobPriority, JobTrigger
from jobs.retry import RetryPolicy
from jobs.services import job_enqueue
from notifications.models import Delivery, DeliveryStatus, NotificationSettings
from notifications.models.delivery import PENDING_DELIVERY_STATUSES
from notifications.services.deliveries import (
    SEND_JOB_TYPE,
    SendFailed,
    delivery_channel_send,
    delivery_failure_record,
    delivery_fallback_safely,
    notifications_status_refresh,
)
from notifications.services.notification_settings import notification_settings_get

logger = logging.getLogger(__name__)

# Sent deliveries are recorded at the end of the batch, when it is stopped, and after
# this many sends: a worker killed mid-batch sends at most this many again (delivery is
# at-least-once either way).
RECORD_EVERY_SENDS = 100


def delivery_batch_send(
    *,
    job_id: str,
    organization_id: str | None,
    delivery_ids: list[str],
    check: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Send the batch job `job_id`'s deliveries (the notification_send_batch job's body).

    A payload naming a delivery of another organization (or a job without one) is a
    PermanentJobError before anything is sent. `check()` runs before each send (the job's
    progress check: it raises when the job is cancelled, timed out or taken away); what
    was sent by then is recorded. Returns the counts for the job's result.
    """
    if organization_id is None:
        raise PermanentJobError("A send batch needs its organization: deliveries belong to one.")
    rows = list(Delivery.objects.filter(pk__in=delivery_ids))
    foreign = [d.pk for d in rows if d.organization_id != organization_id]
    if foreign:
        raise PermanentJobError(
            f"A send batch of organization {organization_id} names deliveries of another organization: "
            f"{', '.join(foreign[:5])}{' …' if len(foreign) > 5 else ''}."
        )
    order = {pk: i for i, pk in enumerate(delivery_ids)}
    mine = sorted(
        (d for d in rows if d.job_id == job_id and d.status in PENDING_DELIVERY_STATUSES), key=lambda d: order[d.pk]
    )
    counts = {"deliveries": len(delivery_ids), "sent": 0, "failed": 0, "retrying": 0, "skipped": len(delivery_ids)}
    if not mine:
        return counts
    counts["skipped"] -= len(mine)
    settings = _settings_of(organization_id)
    sent: list[tuple[Delivery, str | None]] = []
    try:
        for delivery in mine:
            check()
            outcome, provider_id = _send_one(delivery, settings, batch_job_id=job_id)
            if outcome != "sent":
                counts[outcome] += 1
                continue
            sent.append((delivery, provider_id))
            if len(sent) >= RECORD_EVERY_SENDS:
                counts["sent"] += _record_sent(sent, job_id=job_id)
                sent = []
    finally:
        # Also when the job is aborted or a failure is being recorded: what went is marked sent.
        counts["sent"] += _record_sent(sent, job_id=job_id)
    return counts


def _settings_of(organization_id: str) -> NotificationSettings:
    settings = (
        NotificationSettings.objects.select_related("organization").filter(organization_id=organization_id).first()
    )
    if settings is None:
        from hcm.models import Organization

        settings = notification_settings_get(organization=Organization.objects.get(pk=organization_id))
    return settings


def _send_one(delivery: Delivery, settings: NotificationSettings, *, batch_job_id: str) -> tuple[str, str | None]:
    """Send one delivery: ("sent", provider id) when it went (recorded by the caller), else
    ("failed" | "retrying", None), recorded here."""
    log_fields = {
        "delivery_id": delivery.pk,
        "channel": delivery.channel,
        "organization_id": delivery.organization_id,
        "event": delivery.event,
    }
    try:
        return "sent", delivery_channel_send(delivery, settings)
    except SendFailed as failure:
        error = failure.error
        decision = RetryPolicy.from_settings().after_failure(
            retry_count=0,
            max_retries=DEFAULT_MAX_RETRIES,
            now=timezone.now(),
            permanent=failure.permanent,
            delay_seconds=failure.retry_after,
        )
    if decision.gives_up:
        delivery_failure_record(delivery, error=error, final=True)
        delivery_fallback_safely(delivery, settings)
        outcome = "failed"
    else:
        log_fields["retry_job_id"] = _hand_on(
            delivery, settings, error=error, batch_job_id=batch_job_id, run_at=decision.retry_at
        )
        outcome = "retrying"
    logger.warning(
        "notification delivery failed",
        extra={**log_fields, "error": error, "outcome": "failed" if outcome == "failed" else "will_retry"},
    )
    return outcome, None


def _hand_on(
    delivery: Delivery, settings: NotificationSettings, *, error: str, batch_job_id: str, run_at: datetime | None
) -> str:
    """Give a delivery whose send failed for now a notification_send job of its own, due
    at `run_at`, with the job system's default retries, and count the batch's attempt as
    the first of them (retry_count 1: its backoff goes on from the second step, as if the
    job had made that attempt)."""
    priority = BackgroundJob.objects.filter(pk=batch_job_id).values_list("priority", flat=True).first()
    with transaction.atomic():
        job, _ = job_enqueue(
            organization=settings.organization,
            job_type=SEND_JOB_TYPE,
            payload={"delivery_id": delivery.pk},
            priority=JobPriority(priority).label if priority is not None else None,
            max_retries=DEFAULT_MAX_RETRIES,
            run_at=run_at,
            idempotency_key=f"delivery:{delivery.pk}:from:{batch_job_id}",
            created_by="system",
            trigger=JobTrigger.RETRY,
            trigger_id=batch_job_id,
        )
        BackgroundJob.objects.filter(pk=job.pk, retry_count=0).update(retry_count=1)
        Delivery.objects.filter(pk=delivery.pk, job_id=batch_job_id).update(
            job=job, last_error=error[:2000], attempts=F("attempts") + 1, updated_at=timezone.now()
        )
    return job.pk


def _record_sent(sent: list[tuple[Delivery, str | None]], *, job_id: str) -> int:
    """Mark the sent deliveries sent (one UPDATE) and refresh their notifications."""
    if not sent:
        return 0
    now = timezone.now()
    with transaction.atomic():  # one commit: on SQLite, one turn of the write lock per batch
        count = Delivery.objects.filter(
            pk__in=[d.pk for d, _ in sent], job_id=job_id, status__in=PENDING_DELIVERY_STATUSES
        ).update(
            status=DeliveryStatus.SENT,
            sent_at=now,
            provider_message_id=Case(
                *[When(pk=d.pk, then=Value(provider_id)) for d, provider_id in sent], output_field=CharField()
            ),
            last_error=None,
            attempts=F("attempts") + 1,
            updated_at=now,
        )
        notifications_status_refresh(notification_ids={d.notification_id for d, _ in sent if d.notification_id})
    if logger.isEnabledFor(logging.INFO):  # a line per delivery, as a notification_send job logs it
        for d, _ in sent:
            logger.info(
                "notification delivery sent",
                extra={
                    "delivery_id": d.pk,
                    "channel": d.channel,
                    "organization_id": d.organization_id,
                    "event": d.event,
                    "outcome": "sent",
                },
            )
    return count
