"""A Django email backend that keeps messages in the database (StoredEmail) instead of
sending them: the development mailbox `run.sh` uses, so a first run needs no mail server.

Select it with `EMAIL_BACKEND=notifications.mailbox.MailboxBackend`; it serves every
organization whose email provider is `smtp` (the provider that follows EMAIL_BACKEND).
"""

from collections.abc import Sequence

from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend

from notifications.models import StoredEmail


def _html_part(message: EmailMessage) -> str:
    if isinstance(message, EmailMultiAlternatives):
        for content, mimetype in message.alternatives:
            if mimetype == "text/html":
                return str(content)
    return ""


class MailboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        stored = [
            StoredEmail(
                message_id=str(message.extra_headers.get("Message-ID", "")),
                from_email=str(message.from_email),
                to=[*message.to, *message.cc, *message.bcc],
                subject=str(message.subject),
                body=str(message.body),
                html=_html_part(message),
                raw=message.message().as_string(),
            )
            for message in email_messages
            if message.recipients()
        ]
        StoredEmail.objects.bulk_create(stored)
        return len(stored)
