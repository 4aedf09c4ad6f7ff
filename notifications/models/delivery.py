"""Outbound messages (one row per email, SMS, Slack post… — one per channel delivery) and
digest runs."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from hcm.models import Organization
from notifications.channels.base import channel_choices


def new_delivery_id() -> str:
    return "dlv_" + secrets.token_hex(8)


class DeliveryStatus(models.TextChoices):
    """queued → sent | failed; deferred (quiet hours) → sent | failed. A failed attempt
    that will be retried leaves the delivery queued with last_error set."""

    QUEUED = "queued", "Queued"
    DEFERRED = "deferred", "Deferred (quiet hours)"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


PENDING_DELIVERY_STATUSES = (DeliveryStatus.QUEUED, DeliveryStatus.DEFERRED)


class DigestRun(models.Model):
    """One digest email for one user and one period. The unique constraint is what makes
    a digest exactly-once: a second run for the same period cannot be inserted."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="digest_runs")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest_runs")
    frequency = models.CharField(max_length=10)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    notification_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "notification_digest_runs"
        ordering = ["-period_start"]
        constraints = [
            models.UniqueConstraint(fields=["user", "frequency", "period_start"], name="digest_run_once_per_period"),
        ]

    def __str__(self) -> str:
        return f"{self.frequency} digest for {self.user_id} from {self.period_start:%Y-%m-%d %H:%M}"


class Delivery(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=new_delivery_id, editable=False)
    # The foreign keys' indexes are in Meta.indexes: db_index=True would add a second,
    # varchar_pattern_ops copy on PostgreSQL that no query uses and every insert pays for.
    # The organization is indexed first in dlv_org_created_idx.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="notification_deliveries", db_index=False
    )
    # Email and SMS deliveries belong to the recipient's notification; a Slack post goes to
    # the organization's channel once per event (notification is empty); a digest email
    # belongs to its digest run.
    notification = models.ForeignKey(
        "notifications.Notification",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,
    )
    digest_run = models.ForeignKey(
        DigestRun, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=100, help_text="Notification type, or 'digest'.")
    # A key of the channel registry (notifications.channels): the registry is the one list.
    channel = models.CharField(max_length=10, choices=channel_choices)
    # Email address or phone number; for Slack only a masked hint (the URL is a credential).
    recipient = models.CharField(max_length=255)
    # What is sent, rendered when the event happened: subject/text/html, text, or Slack payload.
    content = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    provider_message_id = models.CharField(max_length=255, null=True, blank=True)
    last_error = models.TextField(null=True, blank=True)
    deferred_until = models.DateTimeField(null=True, blank=True)
    job = models.ForeignKey(
        "jobs.BackgroundJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    # Channel fallback: this delivery (by email) replaces one that failed for good.
    replaces = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replaced_by", db_index=False
    )
    # An organization-wide delivery (Slack, Teams, webhook) belongs to no one notification:
    # the notifications of its event, whose recipients a fallback reaches.
    event_notification_ids = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "notification_deliveries"
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="dlv_org_created_idx"),
            models.Index(fields=["status", "channel"], name="dlv_status_channel_idx"),
            # /metrics counts the deliveries that ended (sent, failed) since its last scrape.
            models.Index(fields=["status", "updated_at"], name="dlv_status_updated_idx"),
            models.Index(fields=["notification"], name="dlv_notification_idx"),
            models.Index(fields=["job"], name="dlv_job_idx"),
            # Partial: a fan-out's deliveries (no digest, replacing nothing) add nothing to them.
            models.Index(fields=["digest_run"], name="dlv_digest_run_idx", condition=Q(digest_run__isnull=False)),
            models.Index(fields=["replaces"], name="dlv_replaces_idx", condition=Q(replaces__isnull=False)),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=DeliveryStatus.values), name="dlv_status_valid"),
            # At most one fallback per notification and channel, however many deliveries
            # of it failed and however many workers noticed at once.
            models.UniqueConstraint(
                fields=["notification", "channel"],
                condition=Q(replaces__isnull=False),
                name="dlv_one_fallback_per_channel",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.channel} → {self.recipient} ({self.status})"
