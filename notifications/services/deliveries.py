"""Outbound deliveries: queueing their jobs, one send attempt, resending failed ones.

Delivery status follows the job: queued (or deferred to the end of quiet hours) → sent,
or failed once the job gives up (at once for a permanent error; after the job system's
retries for a transient one). A fan-out's deliveries go out in batches, one
notification_send_batch job each (notifications.services.delivery_batches); a batch hands
a delivery that failed for a while to a notification_send job of its own, which is also
what a single delivery (and a resend) gets.
"""

import logging
import secrets
from collections.abc import Collection
from datetime import datetime
from typing import Any

from django.conf import settings as django_settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from jobs.errors import PermanentJobError, RetryJobAfter
from jobs.models import JobStatus, JobTrigger
from jobs.services import JobStateError, job_enqueue, job_enqueue_many, job_retry
from notifications.bulk_insert import bulk_insert
from notifications.channels.base import DeliveryError, Outgoing, channels, get_channel, scrub
from notifications.job_types import BATCH_JOB_TYPE, MAX_BATCH_SIZE, SEND_JOB_TYPE
from notifications.models import (
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationSettings,
    NotificationStatus,
)
from notifications.models.delivery import PENDING_DELIVERY_STATUSES
from notifications.rendering import GENERIC_TEMPLATE, RenderedNotification
from notifications.services.notification_settings import notification_settings_get

logger = logging.getLogger(__name__)


# Critical and high notifications jump the job queue; low ones wait behind the rest.
JOB_PRIORITY = {"critical": "high", "high": "high", "normal": "medium", "low": "low"}


class DeliveryRetry(Exception):
    """A transient failure: the job system retries it with its backoff."""


class SendFailed(Exception):
    """A send that did not go. `error` is credential-free: whatever the provider or a
    library put in its message, no credential leaves here — not into the delivery row, a
    job's error, its attempt log, the log file or the admin."""

    def __init__(self, error: str, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(error)
        self.error, self.permanent, self.retry_after = error, permanent, retry_after


def delivery_channel_send(delivery: Delivery, settings: NotificationSettings) -> str | None:
    """Send one delivery through its channel (the notification_send job's and a send
    batch's one way to send); returns the provider's message id. Raises SendFailed: an
    unknown channel is permanent, a DeliveryError as the channel classed it, any other
    exception (a bug, an unexpected provider error) transient, like a 5xx."""
    channel = get_channel(delivery.channel)
    try:
        if channel is None:
            raise DeliveryError(f"Unknown channel {delivery.channel!r} (not registered).", permanent=True)
        return channel.send(delivery, settings)
    except DeliveryError as exc:
        raise SendFailed(
            credential_free(str(exc), settings), permanent=exc.permanent, retry_after=exc.retry_after
        ) from None
    except Exception as exc:
        # Without its text's credentials, and without its traceback: either may quote one.
        raise SendFailed(credential_free(f"{type(exc).__name__}: {exc}", settings), permanent=False) from None


def send_batch_size() -> int:
    """NOTIFICATIONS_SEND_BATCH_SIZE, within 1..MAX_BATCH_SIZE."""
    return max(1, min(int(django_settings.NOTIFICATIONS_SEND_BATCH_SIZE), MAX_BATCH_SIZE))


def deliveries_enqueue(deliveries: list[Delivery], *, priority: str, by: str) -> None:
    """Insert the deliveries and their send jobs (run at deferred_until for deferred ones):
    one notification_send_batch job per NOTIFICATIONS_SEND_BATCH_SIZE deliveries due at
    the same time, a notification_send job for a batch of one. Each delivery's job_id is
    its job. Call inside the transaction that creates what they belong to."""
    by_run_at: dict[datetime | None, list[Delivery]] = {}
    for d in deliveries:
        by_run_at.setdefault(d.deferred_until, []).append(d)
    size = send_batch_size()
    with transaction.atomic():
        # One bulk insert of jobs per job type and distinct run time (quiet hours: a few at most).
        for run_at, group in by_run_at.items():
            batches = [group[i : i + size] for i in range(0, len(group), size)]
            singles = [b for b in batches if len(b) == 1]
            many = [b for b in batches if len(b) > 1]
            for job_type, chosen, payloads in (
                (SEND_JOB_TYPE, singles, [{"delivery_id": b[0].pk} for b in singles]),
                (BATCH_JOB_TYPE, many, [{"delivery_ids": [d.pk for d in b]} for b in many]),
            ):
                if not chosen:
                    continue
                ids = job_enqueue_many(
                    organization=group[0].organization,
                    job_type=job_type,
                    payloads=payloads,  # type: ignore[arg-type]
                    priority=JOB_PRIORITY.get(priority, "medium"),
                    run_at=run_at,
                    created_by=by,
                )
                for batch, job_id in zip(chosen, ids, strict=True):
                    for d in batch:
                        d.job_id = job_id
        bulk_insert(deliveries)


def _enqueue(delivery: Delivery, *, priority: str, by: str, key_suffix: str = "", retry_of: str | None = None):
    job, _ = job_enqueue(
        organization=delivery.organization,
        job_type=SEND_JOB_TYPE,
        payload={"delivery_id": delivery.pk},
        priority=JOB_PRIORITY.get(priority, "medium"),
        run_at=delivery.deferred_until,
        idempotency_key=f"delivery:{delivery.pk}{key_suffix}",
        created_by=by,
        trigger=JobTrigger.RETRY if retry_of else JobTrigger.SYSTEM,
        trigger_id=retry_of,
    )
    return job


def delivery_attempt(
    *, delivery_id: str, gives_up_on_failure: bool, organization_id: str | None = None
) -> dict[str, Any]:
    """Send one delivery once (the notification_send job's body).

    Raises PermanentJobError (delivery failed, no retry), RetryJobAfter (429: retry no
    sooner than the provider asked) or DeliveryRetry (transient: the job system retries).
    `gives_up_on_failure`: this is the job's last attempt, so any failure is final.
    With `organization_id` (the job's), a delivery of another organization, or none, is a
    PermanentJobError: a payload can never name another organization's delivery.
    """
    # The organization and its settings come with the delivery: one query.
    delivery = (
        Delivery.objects.select_related("organization", "organization__notification_settings")
        .filter(pk=delivery_id)
        .first()
    )
    if organization_id is not None and (delivery is None or delivery.organization_id != organization_id):
        raise PermanentJobError(f"Delivery {delivery_id} is not one of this job's organization.")
    if delivery is None:  # its notification was deleted meanwhile
        return {"delivery_id": delivery_id, "skipped": "delivery no longer exists"}
    if delivery.status in (DeliveryStatus.SENT, DeliveryStatus.FAILED):
        # Already settled (a repeated job, or resend raced): never send twice.
        return {"delivery_id": delivery_id, "skipped": f"delivery is {delivery.status}"}
    try:
        settings = delivery.organization.notification_settings
    except NotificationSettings.DoesNotExist:
        settings = notification_settings_get(organization=delivery.organization)
    log_fields = {
        "delivery_id": delivery.pk,
        "channel": delivery.channel,
        "organization_id": delivery.organization_id,
        "event": delivery.event,
    }
    try:
        provider_id = delivery_channel_send(delivery, settings)
    except SendFailed as failure:
        final = failure.permanent or gives_up_on_failure
        delivery_failure_record(delivery, error=failure.error, final=final)
        if final:
            delivery_fallback_safely(delivery, settings)
        logger.warning(
            "notification delivery failed",
            extra={**log_fields, "error": failure.error, "outcome": "failed" if final else "will_retry"},
        )
        if failure.permanent:
            raise PermanentJobError(failure.error) from None
        if failure.retry_after is not None:
            raise RetryJobAfter(failure.error, delay_seconds=failure.retry_after) from None
        raise DeliveryRetry(failure.error) from None
    now = timezone.now()
    with transaction.atomic():  # one commit per send: on SQLite, one turn of the write lock
        # The attempt is counted with its outcome (a worker killed mid-send leaves it to
        # the job's attempt log): one write per send, not two.
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.SENT,
            sent_at=now,
            provider_message_id=provider_id,
            last_error=None,
            attempts=F("attempts") + 1,
            updated_at=now,
        )
        if delivery.notification_id:
            notification_status_refresh(notification_id=delivery.notification_id)
    logger.info("notification delivery sent", extra={**log_fields, "outcome": "sent"})
    return {
        "delivery_id": delivery.pk,
        "channel": delivery.channel,
        "status": "sent",
        "provider_message_id": provider_id,
    }


def delivery_fallback_safely(delivery: Delivery, settings: NotificationSettings) -> None:
    """The email fallback of a delivery that failed for good, never raising."""
    try:
        delivery_fallback_to_email(delivery=delivery, settings=settings)
    except Exception:  # the failure is recorded already; a fallback problem must not hide it
        logger.exception("email fallback failed", extra={"delivery_id": delivery.pk, "channel": delivery.channel})


def delivery_fallback_to_email(*, delivery: Delivery, settings: NotificationSettings) -> list[Delivery]:
    """Seed 004's "try the next channel": a delivery on another channel failed for good, so
    its recipients who did not get the notification by email get it by email now — when
    the organization has email on and fallback_to_email set, even if the event's email
    toggle is off (that toggle chose another channel, and that channel failed). Each new
    delivery points to the one it replaces. Returns them."""
    from notifications.channels.email import EmailChannel

    email = EmailChannel.key
    spec = get_channel(delivery.channel)
    if spec is None or not spec.falls_back_to_email or delivery.digest_run_id:
        return []
    if not (settings.fallback_to_email and settings.email_enabled):
        return []
    ids = [delivery.notification_id] if delivery.notification_id else list(delivery.event_notification_ids or [])
    emailed = set(
        Delivery.objects.filter(notification_id__in=ids, channel=email).values_list("notification_id", flat=True)
    )
    channel = EmailChannel()
    created: list[Delivery] = []
    notifications = (
        Notification.objects.filter(pk__in=ids).exclude(pk__in=emailed).select_related("user", "organization")
    )
    for notification in notifications:
        user = notification.user
        if not user.is_active or not user.email:
            continue
        message = _outgoing_of(notification)
        replacement = Delivery(
            organization_id=notification.organization_id,
            notification=notification,
            user=user,
            event=notification.type,
            channel=email,
            recipient=user.email,
            content=channel.render(message, user=user),
            replaces=delivery,
        )
        try:
            with transaction.atomic():
                deliveries_enqueue([replacement], priority=notification.priority, by="fallback")
        except IntegrityError:
            continue  # another failed channel of this notification already fell back
        notification_status_refresh(notification_id=notification.pk)
        created.append(replacement)
    if created:
        logger.info(
            "notification delivery fell back to email",
            extra={"delivery_id": delivery.pk, "channel": delivery.channel, "fallbacks": len(created)},
        )
    return created


def _outgoing_of(notification: Notification) -> Outgoing:
    """The message as the fan-out had it, rebuilt from the stored notification."""
    from notifications.events import get_event

    return Outgoing(
        type=notification.type,
        priority=notification.priority,
        rendered=RenderedNotification(
            title=notification.title, message=notification.message, action_url=notification.action_url
        ),
        data=dict(notification.metadata or {}),
        email_template=notification.type if get_event(notification.type) else GENERIC_TEMPLATE,
        organization_name=notification.organization.name,
        organization_id=notification.organization_id,
    )


def credential_free(text: str, settings: NotificationSettings) -> str:
    """`text` with every channel's stored credentials (webhook URLs, secrets) masked."""
    secrets_: list[str] = []
    for c in channels():
        secrets_ += c.secrets(settings)
    # PostgreSQL text cannot hold NUL; a provider's answer may.
    return scrub(text, secrets_).replace("\x00", "\\x00")


def delivery_failure_record(delivery: Delivery, *, error: str, final: bool) -> None:
    """Count a failed attempt with its (credential-free) error; `final`: the delivery failed."""
    changes: dict[str, Any] = {"last_error": error[:2000], "attempts": F("attempts") + 1, "updated_at": timezone.now()}
    if final:
        changes["status"] = DeliveryStatus.FAILED
    Delivery.objects.filter(pk=delivery.pk).update(**changes)
    if final and delivery.notification_id:
        notification_status_refresh(notification_id=delivery.notification_id)


def notification_status_refresh(*, notification_id: str) -> None:
    """pending while a delivery is queued or deferred, then failed if any failed, else sent:
    in `delivery_status` always, and in `status` unless the user has read it (read stays read)."""
    notifications_status_refresh(notification_ids=[notification_id])


def notifications_status_refresh(*, notification_ids: Collection[str]) -> None:
    """notification_status_refresh() for many notifications (a batch of sends): one query
    for their deliveries, one UPDATE per resulting status."""
    if not notification_ids:
        return
    # A failed delivery that a fallback replaced is judged by its replacement.
    statuses: dict[str, set[str]] = {}
    rows = Delivery.objects.filter(notification_id__in=notification_ids, replaced_by__isnull=True).values_list(
        "notification_id", "status"
    )
    for notification_id, delivery_status in rows:
        statuses.setdefault(notification_id, set()).add(delivery_status)
    by_status: dict[str, list[str]] = {}
    for notification_id in notification_ids:
        by_status.setdefault(_notification_status(statuses.get(notification_id, set())), []).append(notification_id)
    for status, ids in by_status.items():
        changes: dict[str, Any] = {
            # Delivery is recorded whether or not the user has read the notification meanwhile.
            "delivery_status": status,
            "status": Case(When(status=NotificationStatus.READ, then=F("status")), default=Value(status)),
        }
        if status == NotificationStatus.SENT:
            changes["sent_at"] = Coalesce(F("sent_at"), Value(timezone.now()))
        filtered = Notification.objects.filter(pk=ids[0]) if len(ids) == 1 else Notification.objects.filter(pk__in=ids)
        filtered.update(**changes)


def _notification_status(statuses: set[str]) -> str:
    if statuses & set(PENDING_DELIVERY_STATUSES):
        return NotificationStatus.PENDING
    if DeliveryStatus.FAILED in statuses:
        return NotificationStatus.FAILED
    return NotificationStatus.SENT


def delivery_resendable(delivery: Delivery) -> bool:
    """Failed, or still waiting on a job that will never run it (cancelled, failed after a
    timeout or a lost worker, or deleted by the cleanup job)."""
    if delivery.status == DeliveryStatus.FAILED:
        return True
    if delivery.status not in PENDING_DELIVERY_STATUSES:
        return False
    return delivery.job is None or delivery.job.status in (JobStatus.FAILED, JobStatus.CANCELLED)


def delivery_resend(*, delivery: Delivery, by: str) -> Delivery:
    """Queue a failed (or orphaned) delivery again, now, with fresh retries (admin action)."""
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update(of=("self",)).select_related("job").get(pk=delivery.pk)
        if not delivery_resendable(delivery):
            raise JobStateError(
                f"Delivery {delivery.pk} is {delivery.status}; only failed deliveries (or ones whose job "
                "ended without sending them) can be resent."
            )
        delivery.status, delivery.deferred_until = DeliveryStatus.QUEUED, None
        job = delivery.job
        if job is not None and job.job_type == SEND_JOB_TYPE and job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
            job_retry(job=job, by=by)
        else:  # its job was cleaned up, never ran, or sends a batch (whose others are not resent): a new one
            delivery.job = _enqueue(
                delivery,
                priority="normal",
                by=by,
                key_suffix=f":resend:{secrets.token_hex(4)}",
                retry_of=delivery.job_id,
            )
        delivery.save(update_fields=["status", "deferred_until", "job", "updated_at"])
        if delivery.notification_id:
            notification_status_refresh(notification_id=delivery.notification_id)
    logger.info(
        "notification delivery resent",
        extra={"delivery_id": delivery.pk, "channel": delivery.channel, "by": by},
    )
    return delivery
