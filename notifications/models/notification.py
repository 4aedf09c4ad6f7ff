"""The in-app notification center: one row per (recipient, event)."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from hcm.models import Organization


def new_notification_id() -> str:
    return "ntf_" + secrets.token_hex(8)


class NotificationStatus(models.TextChoices):
    """pending (outbound deliveries still queued or deferred) → sent | failed; read once the
    user marks it read (a read notification stays read whatever its deliveries do later)."""

    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    READ = "read", "Read"


class NotificationPriority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class Notification(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=new_notification_id, editable=False)
    # The foreign keys' indexes are in Meta.indexes: db_index=True would add a second,
    # varchar_pattern_ops copy on PostgreSQL that no query uses and every insert pays for.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    # Indexed first in ntf_user_created_idx and the other per-user indexes.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    type = models.CharField(max_length=100, help_text="The event name, or a custom type for admin messages.")
    title = models.CharField(max_length=200)
    message = models.TextField(blank=True, default="")
    priority = models.CharField(
        max_length=10, choices=NotificationPriority.choices, default=NotificationPriority.NORMAL
    )
    channels = models.JSONField(
        default=list, blank=True, help_text="Channels used: in_app plus the outbound channels' keys."
    )
    status = models.CharField(max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING)
    # Delivery state apart from read state: pending → sent | failed, whatever the user did.
    # `status` shows "read" once read; this keeps saying how the outbound channels went.
    delivery_status = models.CharField(
        max_length=10,
        choices=[(s.value, s.label) for s in NotificationStatus if s != NotificationStatus.READ],
        default=NotificationStatus.PENDING,
    )
    metadata = models.JSONField(default=dict, blank=True, help_text="The event data.")
    action_url = models.CharField(max_length=500, blank=True, default="")
    read_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Set when the notification was listed in a digest email; never listed twice.
    digest_run = models.ForeignKey(
        "notifications.DigestRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
        db_index=False,  # ntf_digest_run_idx: only the rows that have one
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # The stream's position: assigned by the database on insert (migration 0005), in commit
    # order, never reused; GET /api/notifications/stream resumes from it (Last-Event-ID).
    seq = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "notifications"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="ntf_user_created_idx"),
            models.Index(fields=["user", "type", "-created_at"], name="ntf_user_type_idx"),
            models.Index(fields=["user"], name="ntf_user_unread_idx", condition=Q(read_at__isnull=True)),
            # Digest candidates: unread, not yet in a digest, by organization and time.
            models.Index(
                fields=["organization", "created_at"],
                name="ntf_digest_candidates_idx",
                condition=Q(read_at__isnull=True, digest_run__isnull=True),
            ),
            models.Index(fields=["read_at"], name="ntf_read_at_idx", condition=Q(read_at__isnull=False)),
            models.Index(fields=["user", "seq"], name="ntf_user_seq_idx"),
            models.Index(fields=["seq"], name="ntf_seq_idx"),
            # /metrics counts notifications created since its last scrape.
            models.Index(fields=["created_at"], name="ntf_created_idx"),
            models.Index(fields=["organization"], name="ntf_org_idx"),
            # Partial: a new notification (in no digest yet) adds nothing to it.
            models.Index(fields=["digest_run"], name="ntf_digest_run_idx", condition=Q(digest_run__isnull=False)),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=NotificationStatus.values), name="ntf_status_valid"),
            models.CheckConstraint(condition=Q(priority__in=NotificationPriority.values), name="ntf_priority_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.type} → {self.user_id}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None
