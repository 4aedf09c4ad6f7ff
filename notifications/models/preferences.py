"""What each person chooses to hear, within what their organization allows."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class NotificationPreference(models.Model):
    """One person's choice for one event on one channel. Only choices are stored: a cell
    without a row is "on" (the person has not opted out)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    event = models.CharField(max_length=100)
    channel = models.CharField(max_length=20)
    enabled = models.BooleanField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "notification_preferences"
        constraints = [
            models.UniqueConstraint(fields=["user", "event", "channel"], name="ntf_pref_one_per_cell"),
        ]
        # The fan-out reads one event's opt-outs for many users at once.
        indexes = [models.Index(fields=["event", "user"], name="ntf_pref_event_user_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.event}/{self.channel}: {'on' if self.enabled else 'off'}"


class PersonalQuietHours(models.Model):
    """A person's own quiet hours and time zone, applied on top of the organization's."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="personal_quiet_hours"
    )
    # Both set, or neither (no personal window).
    start = models.CharField(max_length=5, null=True, blank=True, help_text="HH:MM")
    end = models.CharField(max_length=5, null=True, blank=True, help_text="HH:MM")
    # Empty: the organization's time zone.
    timezone = models.CharField(max_length=64, null=True, blank=True, help_text="IANA zone, e.g. Europe/Berlin")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "notification_personal_quiet_hours"
        verbose_name_plural = "personal quiet hours"

    def __str__(self) -> str:
        return f"Quiet hours of {self.user_id}: {self.start or '-'}–{self.end or '-'}"


class StreamTicket(models.Model):
    """A short-lived, single-use credential for opening the notification stream from a
    browser's EventSource (which cannot send an Authorization header)."""

    # SHA-256 of the token (hex): the token itself is never stored.
    digest = models.CharField(primary_key=True, max_length=64, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "notification_stream_tickets"
        indexes = [models.Index(fields=["expires_at"], name="ntf_ticket_expires_idx")]

    def __str__(self) -> str:
        return f"stream ticket of {self.user_id}"
