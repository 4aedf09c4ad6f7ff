"""How to reach a user outside the app, beyond the email address on the user record."""

from django.conf import settings
from django.db import models

from notifications.validators import validate_e164


class NotificationContact(models.Model):
    """A user's phone number for SMS. Kept here, not on hcm.User, so the notifications app
    owns everything it needs to deliver; a user without a row simply gets no SMS."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="notification_contact"
    )
    phone = models.CharField(
        max_length=16,
        null=True,
        blank=True,
        validators=[validate_e164],  # type: ignore[list-item]  # returns the value too
        help_text="E.164, e.g. +15551234567",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "notification_contacts"

    def __str__(self) -> str:
        return f"Contact of {self.user_id}"
