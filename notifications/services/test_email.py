"""The "send a test email" rule, shared by the API endpoint and the admin button."""

from notifications.email import SentEmail, send_org_email
from notifications.models import NotificationSettings


class EmailDisabledError(Exception):
    """The organization has email turned off, so there is nothing to test."""

    field = "email_enabled"

    def __init__(self) -> None:
        super().__init__("Email is disabled for this organization.")


def send_test_email(settings: NotificationSettings, *, recipient: str | None, requested_by: str) -> SentEmail:
    """Send a test message with the organization's email settings, now.

    `recipient` defaults to the settings' from address. Raises EmailDisabledError, or
    notifications.email.EmailDeliveryError with the reason the message was not accepted.
    """
    if not settings.email_enabled:
        raise EmailDisabledError()
    return send_org_email(
        settings,
        to=[recipient or settings.email_from_address],
        subject=f"Test email from {settings.email_from_name or 'HCM'}",
        text=(
            "This is a test email from the HCM notification settings.\n"
            f"Provider: {settings.email_provider}\nRequested by: {requested_by}\n"
        ),
    )
