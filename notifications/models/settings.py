"""Per-organization notification settings: which channels, which events, when."""

from django.db import models

from hcm.crypto import EncryptedTextField
from hcm.models import Organization
from notifications.validators import MASK


class EmailProvider(models.TextChoices):
    SMTP = "smtp", "SMTP"
    SENDGRID = "sendgrid", "SendGrid"
    SES = "ses", "Amazon SES"
    CONSOLE = "console", "Console (development)"


class SmsProvider(models.TextChoices):
    TWILIO = "twilio", "Twilio"
    AWS_SNS = "aws_sns", "AWS SNS"


class DigestFrequency(models.TextChoices):
    HOURLY = "hourly", "Hourly"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"


class NotificationSettings(models.Model):
    """One row per organization; defaults are seed 000's example response."""

    id = models.CharField(primary_key=True, max_length=50, editable=False)
    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="notification_settings")

    email_enabled = models.BooleanField(default=True)
    email_provider = models.CharField(max_length=20, choices=EmailProvider.choices, default=EmailProvider.SMTP)
    email_from_address = models.EmailField(default="noreply@hcm.local")
    email_from_name = models.CharField(max_length=100, default="HCM System")
    email_on_employee_hired = models.BooleanField(default=True)
    email_on_employee_terminated = models.BooleanField(default=True)
    email_on_org_updated = models.BooleanField(default=False)
    email_on_critical_alerts = models.BooleanField(default=True)
    email_on_leave_request = models.BooleanField(default=True)
    email_on_payroll_processed = models.BooleanField(default=True)
    email_on_job_failed = models.BooleanField(default=True)

    sms_enabled = models.BooleanField(default=False)
    sms_provider = models.CharField(max_length=20, choices=SmsProvider.choices, null=True, blank=True)
    sms_from_number = models.CharField(max_length=16, null=True, blank=True, help_text="E.164, e.g. +15551234567")
    sms_on_employee_hired = models.BooleanField(default=False)
    sms_on_employee_terminated = models.BooleanField(default=False)
    sms_on_critical_alerts = models.BooleanField(default=False)
    sms_on_leave_approved = models.BooleanField(default=False)
    sms_on_payroll_processed = models.BooleanField(default=False)

    slack_enabled = models.BooleanField(default=False)
    # A credential: encrypted at rest, never shown whole (see slack_webhook_hint).
    slack_webhook_url = EncryptedTextField(null=True, blank=True)
    slack_channel = models.CharField(max_length=80, null=True, blank=True)
    slack_on_critical_alerts = models.BooleanField(default=False)
    slack_on_job_failed = models.BooleanField(default=False)

    teams_enabled = models.BooleanField(default=False)
    # Microsoft Teams incoming webhook / Workflows URL: a credential, like Slack's.
    teams_webhook_url = EncryptedTextField(null=True, blank=True)
    teams_on_critical_alerts = models.BooleanField(default=False)
    teams_on_job_failed = models.BooleanField(default=False)

    # Outbound webhook: every notification event POSTed as JSON to the organization's
    # HTTPS endpoint, signed with HMAC-SHA256 (webhook_secret, generated here, shown once).
    webhook_enabled = models.BooleanField(default=False)
    webhook_url = EncryptedTextField(null=True, blank=True)
    webhook_secret = EncryptedTextField(null=True, blank=True)

    # When an SMS or Slack (any non-email) delivery fails for good, email the recipients who
    # did not get it by email, if email is on (even with the event's email toggle off).
    fallback_to_email = models.BooleanField(default=True)

    digest_frequency = models.CharField(
        max_length=10,
        choices=DigestFrequency.choices,
        null=True,
        blank=True,
        default=DigestFrequency.DAILY,
        help_text="Empty turns digests off.",
    )
    digest_quiet_hours_start = models.CharField(max_length=5, default="22:00", help_text="HH:MM")
    digest_quiet_hours_end = models.CharField(max_length=5, default="08:00", help_text="HH:MM")
    digest_do_not_disturb = models.BooleanField(default=False)

    custom_settings = models.JSONField(default=dict, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, default="system")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=150, default="system")

    class Meta:
        db_table = "notification_settings"
        verbose_name = "notification settings"
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return f"Notification settings of {self.organization}"

    @property
    def slack_webhook_hint(self) -> str | None:
        return mask_secret_url(self.slack_webhook_url)

    @property
    def teams_webhook_hint(self) -> str | None:
        return mask_secret_url(self.teams_webhook_url)

    @property
    def webhook_url_hint(self) -> str | None:
        return mask_secret_url(self.webhook_url)


def mask_secret_url(url: str | None) -> str | None:
    """`https://hooks.slack.com/services/T0/B0/abcd1234` → `https://hooks.slack.com/…1234`."""
    if not url:
        return None
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0]
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        # A URL that should never have been stored: show nothing of it but a mask.
        return MASK
    return f"{scheme}://{host}/{MASK}{url[-4:]}" if len(url) > 12 else MASK
