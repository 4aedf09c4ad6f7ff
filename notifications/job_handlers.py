"""The notifications app's job types (autodiscovered) and its cleanup steps.

The services each handler calls are imported when a job of its type first runs, not when
the worker starts: a worker that never fans out an event or sends a digest does not hold
them (issue 13: a leaner worker). The payloads and names here are light.
"""

from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers

from jobs.cleanup import register_cleanup_step
from jobs.context import JobContext
from jobs.errors import PermanentJobError
from jobs.models import BackgroundJob
from jobs.registry import job_handler
from jobs.retry import RetryPolicy
from notifications.email import job as _email_job  # noqa: F401  (registers email_send)
from notifications.job_types import (
    ALERT_JOB_TYPE,
    BATCH_JOB_TYPE,
    FANOUT_JOB_TYPE,
    MAX_BATCH_SIZE,
    MAX_EVENT_RECIPIENTS,
    SEND_JOB_TYPE,
)
from notifications.payload_fields import UserIdsField


class NotificationSendPayload(serializers.Serializer):
    delivery_id = serializers.CharField(max_length=40)


class DeliveryIdsField(serializers.Field):
    """A list of delivery ids, checked in one pass (a ListField costs a field call per id)."""

    default_error_messages = {
        "invalid": "Must be a list of 1 to {max} delivery ids (strings of at most 40 characters).",
    }

    def to_internal_value(self, data: Any) -> list[str]:
        if (
            not isinstance(data, list)
            or not 1 <= len(data) <= MAX_BATCH_SIZE
            or not all(type(v) is str and 0 < len(v) <= 40 for v in data)
        ):
            self.fail("invalid", max=MAX_BATCH_SIZE)
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class NotificationSendBatchPayload(serializers.Serializer):
    delivery_ids = DeliveryIdsField()


class JobFailureAlertPayload(serializers.Serializer):
    job_id = serializers.CharField(max_length=40)


class NotificationFanoutPayload(serializers.Serializer):
    organization_id = serializers.CharField(max_length=40)
    event = serializers.CharField(max_length=100)
    # The key is "data", which shadows Serializer.data here only.
    data = serializers.DictField()  # type: ignore[assignment]
    recipient_ids = UserIdsField(max_length=MAX_EVENT_RECIPIENTS, allow_null=True)
    created_by = serializers.CharField(max_length=150, required=False, default="system")


class NotificationDigestPayload(serializers.Serializer):
    organization_id = serializers.CharField(max_length=40, required=False)


@job_handler(SEND_JOB_TYPE, scope="internal", payload=NotificationSendPayload, timeout=60)
def notification_send(ctx: JobContext) -> dict:
    """Send one email / SMS / Slack delivery of the job's organization; permanent failures
    are not retried."""
    from notifications.services.deliveries import delivery_attempt

    job = ctx.job
    # The job system owns the retry rule; ask it whether a failure now would be the last.
    last = RetryPolicy.from_settings().after_failure(
        retry_count=job.retry_count, max_retries=job.max_retries, now=timezone.now()
    )
    return delivery_attempt(
        delivery_id=ctx.payload["delivery_id"], gives_up_on_failure=last.gives_up, organization_id=job.organization_id
    )


@job_handler(BATCH_JOB_TYPE, scope="internal", payload=NotificationSendBatchPayload, timeout=600)
def notification_send_batch(ctx: JobContext) -> dict:
    """Send a batch of a fan-out's deliveries of the job's organization over reused
    connections; one that fails for now is handed to a notification_send job of its own."""
    from notifications.services.delivery_batches import delivery_batch_send

    counts = delivery_batch_send(
        job_id=ctx.job.id,
        organization_id=ctx.job.organization_id,
        delivery_ids=ctx.payload["delivery_ids"],
        check=ctx.check,
    )
    ctx.set_counts(
        processed=counts["sent"] + counts["failed"] + counts["retrying"],
        succeeded=counts["sent"],
        failed=counts["failed"] + counts["retrying"],
    )
    return counts


@job_handler(FANOUT_JOB_TYPE, scope="internal", payload=NotificationFanoutPayload, timeout=600, priority="high")
def notification_fanout(ctx: JobContext) -> dict:
    """Fan an event out (POST /api/system/notification-events): every notification and
    delivery of the job's organization, in one transaction, once."""
    from notifications.events import InvalidNotification
    from notifications.services.event_fanout import notification_event_fan_out

    job, payload = ctx.job, ctx.payload
    if job.organization_id is None or payload["organization_id"] != job.organization_id:
        raise PermanentJobError(
            f"A fan-out job of organization {job.organization_id} cannot notify organization "
            f"{payload['organization_id']}."
        )
    # The fan-out marks its job in its own transaction: a job run again after it committed
    # (its worker died before recording it done) notifies nobody twice.
    if BackgroundJob.objects.filter(pk=job.id, result__fanned_out=True).exists():
        return {"skipped": "already fanned out"}

    def mark() -> None:
        ctx.set_progress(100)  # fenced by the lease: a cancelled job's fan-out is undone here
        BackgroundJob.objects.filter(pk=job.id).update(result={"fanned_out": True})

    try:
        counts = notification_event_fan_out(ctx.organization, payload, created_by=payload["created_by"], within=mark)
    except InvalidNotification as exc:  # e.g. a recipient deactivated since the request
        raise PermanentJobError(f"Invalid {', '.join(exc.errors)}: {exc.errors}") from None
    ctx.set_counts(processed=counts["recipients"], succeeded=counts["recipients"], failed=0)
    return counts


@job_handler("notification_digest", scope="internal", payload=NotificationDigestPayload, timeout=300, priority="low")
def notification_digest(ctx: JobContext) -> dict:
    """Queue the digest emails that are due (the job's organization, or all); idempotent."""
    from notifications.services.digests import digests_create_due

    named, own = ctx.payload.get("organization_id"), ctx.job.organization_id
    if own is not None and named not in (None, own):
        raise PermanentJobError(f"A digest job of organization {own} cannot run another organization's digests.")
    result = digests_create_due(organization_id=own or named)
    ctx.set_counts(processed=result["organizations"], succeeded=result["organizations"], failed=0)
    return result


@job_handler(ALERT_JOB_TYPE, scope="internal", payload=JobFailureAlertPayload, timeout=60, priority="high")
def job_failure_alert_send(ctx: JobContext) -> dict:
    """Tell the failed job's organization admins (or the platform operators), throttled."""
    from notifications.services.failure_alerts import job_failure_alert

    return job_failure_alert(job_id=ctx.payload["job_id"], organization_id=ctx.job.organization_id)


def _purge_read_notifications(organization_id: str | None) -> int:
    from notifications.services.notification_center import read_notifications_purge

    return read_notifications_purge(
        older_than_days=settings.NOTIFICATIONS_READ_RETENTION_DAYS, organization_id=organization_id
    )


def _purge_channel_deliveries(organization_id: str | None) -> int:
    from notifications.services.notification_center import channel_deliveries_purge

    return channel_deliveries_purge(
        older_than_days=settings.NOTIFICATIONS_READ_RETENTION_DAYS, organization_id=organization_id
    )


def _purge_digest_runs(organization_id: str | None) -> int:
    from notifications.services.digests import digest_runs_purge

    return digest_runs_purge(
        older_than_days=settings.NOTIFICATIONS_READ_RETENTION_DAYS, organization_id=organization_id
    )


register_cleanup_step("expired_data", "read_notifications", _purge_read_notifications)
register_cleanup_step("expired_data", "notification_slack_deliveries", _purge_channel_deliveries)
register_cleanup_step("expired_data", "notification_digest_runs", _purge_digest_runs)


def _purge_stream_tickets(organization_id: str | None) -> int:
    from notifications.stream.tickets import stream_tickets_purge

    return stream_tickets_purge(organization_id=organization_id)


register_cleanup_step("expired_data", "notification_stream_tickets", _purge_stream_tickets)
