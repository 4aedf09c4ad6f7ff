"""Sending email for an organization: its provider, its from name and address.

A provider is one class (Django's own idea: one email backend per service, one setting
picks it): `register_mail_provider(MyProvider())` adds one, and an organization's
`email_provider` names it.
"""

import logging
import secrets
from dataclasses import dataclass
from email.utils import formataddr, make_msgid
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMultiAlternatives, get_connection

from notifications.email.connections import connection_key, pool
from notifications.models import NotificationSettings

logger = logging.getLogger(__name__)


class EmailDeliveryError(Exception):
    """The message was not accepted. `permanent` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


@dataclass(frozen=True)
class SentEmail:
    to: list[str]
    subject: str
    message_id: str


class MailProvider:
    """One way of sending email: a Django email backend and what it needs configured."""

    key: str = ""
    label: str = ""
    backend: str = ""

    def check_configured(self) -> None:
        """Raise a permanent EmailDeliveryError naming what is missing."""

    def backend_path(self) -> str:
        return self.backend

    def connection_options(self) -> dict[str, Any]:
        return {}

    def pool_key(self) -> tuple:
        """Which pooled connection a message of this provider may reuse."""
        return connection_key(self.key, self.backend_path(), self.connection_options())

    def connection(self):
        self.check_configured()
        options = self.connection_options()
        try:
            return get_connection(
                self.backend_path(), fail_silently=False, timeout=django_settings.EMAIL_TIMEOUT, **options
            )
        except (ImproperlyConfigured, TypeError):  # a backend without a timeout option
            return get_connection(self.backend_path(), fail_silently=False, **options)


class SmtpProvider(MailProvider):
    key, label = "smtp", "SMTP"

    def backend_path(self) -> str:
        return django_settings.EMAIL_BACKEND  # settings decide (SMTP by default)


class ConsoleProvider(MailProvider):
    key, label = "console", "Console (development)"
    backend = "django.core.mail.backends.console.EmailBackend"


class SendGridProvider(MailProvider):
    key, label = "sendgrid", "SendGrid"
    backend = "anymail.backends.sendgrid.EmailBackend"

    def check_configured(self) -> None:
        if not django_settings.ANYMAIL.get("SENDGRID_API_KEY"):
            raise EmailDeliveryError(
                "Email provider 'sendgrid' is not configured: set SENDGRID_API_KEY.", permanent=True
            )


class SesProvider(MailProvider):
    """Amazon SES through django-anymail (boto3). AWS_ENDPOINT_URL_SES points it at a
    stand-in (tests: moto's server); credentials come from boto3's usual chain."""

    key, label = "ses", "Amazon SES"
    backend = "anymail.backends.amazon_ses.EmailBackend"

    def check_configured(self) -> None:
        try:
            import boto3  # noqa: F401
        except ImportError:
            raise EmailDeliveryError(
                "Email provider 'ses' is not configured: install boto3 and set AWS credentials.", permanent=True
            ) from None

    def connection_options(self) -> dict[str, Any]:
        timeout = django_settings.EMAIL_TIMEOUT
        params: dict[str, Any] = {
            "region_name": django_settings.AWS_REGION,
            # One try per attempt: the job system's retry policy decides, not boto's.
            "config": {"connect_timeout": timeout, "read_timeout": timeout, "retries": {"max_attempts": 1}},
        }
        if django_settings.AWS_ENDPOINT_URL_SES:
            params["endpoint_url"] = django_settings.AWS_ENDPOINT_URL_SES
        return {"client_params": params}


class _EmailMessage(EmailMultiAlternatives):
    """Django's message, its multipart boundaries drawn here: otherwise the email generator
    draws one and compiles a regex per message to check that the text does not contain it,
    about an eighth of a send's CPU (bench/email_costs.py). 128 random bits drawn after the
    text is fixed cannot be in it but by a chance of 2^-128."""

    def message(self, *args: Any, **kwargs: Any) -> Any:
        msg = super().message(*args, **kwargs)
        for part in msg.walk():
            # Multipart parts only: an attached message (message/rfc822) is left as it is.
            if part.get_content_maintype() == "multipart" and part.get_boundary() is None:
                part.set_boundary(f"==============={secrets.token_hex(16)}==")
        return msg


_PROVIDERS: dict[str, MailProvider] = {}


def register_mail_provider(provider: MailProvider) -> MailProvider:
    _PROVIDERS[provider.key] = provider
    return provider


def mail_provider(key: str) -> MailProvider:
    provider = _PROVIDERS.get(key)
    if provider is None:
        raise EmailDeliveryError(f"Unknown email provider {key!r}.", permanent=True)
    return provider


def mail_provider_choices() -> list[tuple[str, str]]:
    return [(p.key, p.label) for p in _PROVIDERS.values()]


for _provider in (SmtpProvider(), SendGridProvider(), SesProvider(), ConsoleProvider()):
    register_mail_provider(_provider)


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
    provider = mail_provider(settings.email_provider)
    provider.check_configured()
    message = _EmailMessage(
        subject=subject,
        body=text,
        from_email=sender,
        to=to,
        headers={**(headers or {}), "Message-ID": message_id},
    )
    if html:
        message.attach_alternative(html, "text/html")

    def send_on(connection: Any) -> None:
        message.connection = connection
        message.send()

    # Imported here, not with the module: a worker loads this module with its job handlers,
    # and smtplib (~0.9 MiB) only when it first sends (Django's SMTP backend imports it then).
    import smtplib

    try:
        # This thread's open connection to the provider, reused from message to message.
        pool.send(provider.pool_key(), provider.connection, send_on)
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
            raise _anymail_error(exc) from exc
        raise
    logger.info(
        "email sent",
        extra={"organization_id": settings.organization_id, "message_id": message_id, "recipients": len(to)},
    )
    return SentEmail(to=to, subject=subject, message_id=message_id)


def _anymail_error(exc: Exception) -> EmailDeliveryError:
    """An ESP's refusal, classified like every channel's: 4xx permanent (429 retried),
    5xx and network errors retried."""
    status = getattr(exc, "status_code", None)
    code = ""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # boto3 (SES): the parsed error
        status = status or response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = response.get("Error", {}).get("Code", "")
    text = str(exc).split("\n", 1)[0]
    if status == 429 or code in ("Throttling", "ThrottlingException", "TooManyRequestsException"):
        return EmailDeliveryError(
            f"The email provider is throttling ({code or status}); retry after 60 s.", retry_after=60.0
        )
    permanent = status is not None and 400 <= status < 500
    return EmailDeliveryError(f"The email provider refused the message: {text}", permanent=permanent)
