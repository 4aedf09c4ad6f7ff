"""Sending email for an organization: its provider, its from name and address."""

import logging
import smtplib
from dataclasses import dataclass
from email.utils import formataddr, make_msgid

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMultiAlternatives, get_connection

from notifications.models import NotificationSettings
from notifications.models.settings import EmailProvider

logger = logging.getLogger(__name__)

_PROVIDER_BACKENDS: dict[str, str] = {
    EmailProvider.CONSOLE: "django.core.mail.backends.console.EmailBackend",
    EmailProvider.SENDGRID: "anymail.backends.sendgrid.EmailBackend",
    EmailProvider.SES: "anymail.backends.amazon_ses.EmailBackend",
}


class EmailDeliveryError(Exception):
    """The message was not accepted. `permanent` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class SentEmail:
    to: list[str]
    subject: str
    message_id: str


def _connection(provider: str):
    if provider == EmailProvider.SMTP:
        backend = django_settings.EMAIL_BACKEND  # settings decide (SMTP by default)
    else:
        backend = _PROVIDER_BACKENDS[provider]
    if provider == EmailProvider.SENDGRID and not django_settings.ANYMAIL.get("SENDGRID_API_KEY"):
        raise EmailDeliveryError("Email provider 'sendgrid' is not configured: set SENDGRID_API_KEY.", permanent=True)
    if provider == EmailProvider.SES:
        try:
            import boto3  # noqa: F401
        except ImportError:
            raise EmailDeliveryError(
                "Email provider 'ses' is not configured: install boto3 and set AWS credentials.", permanent=True
            ) from None
    try:
        return get_connection(backend, fail_silently=False, timeout=django_settings.EMAIL_TIMEOUT)
    except (ImproperlyConfigured, TypeError):
        return get_connection(backend, fail_silently=False)


def _smtp_address() -> str:
    return f"{django_settings.EMAIL_HOST}:{django_settings.EMAIL_PORT}"


def send_org_email(
    settings: NotificationSettings,
    *,
    to: list[str],
    subject: str,
    text: str,
    html: str | None = None,
    headers: dict[str, str] | None = None,
) -> SentEmail:
    """Send one message now; raises EmailDeliveryError with a clear reason."""
    if "\n" in subject or "\r" in subject:
        raise EmailDeliveryError("Subject must not contain line breaks.", permanent=True)
    sender = formataddr((settings.email_from_name or "", settings.email_from_address))
    domain = settings.email_from_address.rpartition("@")[2] or None
    message_id = make_msgid(domain=domain)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=sender,
        to=to,
        headers={**(headers or {}), "Message-ID": message_id},
        connection=_connection(settings.email_provider),
    )
    if html:
        message.attach_alternative(html, "text/html")
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as exc:
        raise EmailDeliveryError(
            f"The mail server refused the recipient(s): {', '.join(exc.recipients)}", permanent=True
        ) from exc
    except smtplib.SMTPResponseException as exc:
        permanent = 500 <= exc.smtp_code < 600
        text_error = (
            exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        )
        raise EmailDeliveryError(
            f"The mail server answered {exc.smtp_code}: {text_error}", permanent=permanent
        ) from exc
    except (TimeoutError, smtplib.SMTPException) as exc:
        # smtplib reports a read timeout as SMTPServerDisconnected raised from the TimeoutError.
        if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
            raise EmailDeliveryError(
                f"The mail server at {_smtp_address()} did not answer within "
                f"{django_settings.EMAIL_TIMEOUT:g} s (timed out)."
            ) from exc
        raise EmailDeliveryError(f"The mail server failed: {exc or type(exc).__name__}") from exc
    except OSError as exc:
        raise EmailDeliveryError(f"Cannot reach the mail server at {_smtp_address()}: {exc.strerror or exc}") from exc
    except Exception as exc:  # provider backends (anymail) raise their own types
        if exc.__class__.__module__.startswith("anymail"):
            raise EmailDeliveryError(f"The email provider refused the message: {exc}") from exc
        raise
    logger.info(
        "email sent",
        extra={"organization_id": settings.organization_id, "message_id": message_id, "recipients": len(to)},
    )
    return SentEmail(to=to, subject=subject, message_id=message_id)
