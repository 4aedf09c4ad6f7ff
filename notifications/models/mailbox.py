"""Outgoing email kept in the database instead of sent: the development mailbox."""

from django.db import models


class StoredEmail(models.Model):
    """One message handed to notifications.mailbox.MailboxBackend (EMAIL_BACKEND), as it
    would have gone out: read it in the admin (Notifications → Mailbox)."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    message_id = models.CharField(max_length=255, blank=True)
    from_email = models.CharField(max_length=320)
    to = models.JSONField(default=list, help_text="To, Cc and Bcc addresses.")
    subject = models.CharField(max_length=998, blank=True)
    body = models.TextField(blank=True, help_text="The plain-text part.")
    html = models.TextField(blank=True, help_text="The HTML alternative, if any.")
    raw = models.TextField(help_text="The whole message (RFC 5322), headers included.")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "mailbox message"
        verbose_name_plural = "mailbox"

    def __str__(self) -> str:
        return self.subject or "(no subject)"
