"""Turning an event and its data into text: title, message, emails, SMS and Slack payloads.

Django templates throughout. Text output (titles, plain-text email, SMS, Slack) is
rendered without autoescaping; HTML email is autoescaped. A missing variable renders as
an empty string, and a template that still fails to render falls back to the plain
title and message: a send never crashes on a template.
"""

import html
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.template import Context, Engine, engines
from django.template.backends.django import DjangoTemplates

if TYPE_CHECKING:
    from notifications.events import EventType

logger = logging.getLogger(__name__)

SMS_MAX_CHARS = 1600  # Twilio's limit for one message body
SLACK_HEADER_MAX = 150
SLACK_SECTION_MAX = 3000
GENERIC_TEMPLATE = "message"


@dataclass(frozen=True)
class RenderedNotification:
    """What the notification center shows."""

    title: str
    message: str
    action_url: str


def _engine() -> Engine:
    backend = engines["django"]
    assert isinstance(backend, DjangoTemplates)
    return backend.engine


def render_string(source: str, context: dict[str, Any]) -> str:
    """A template string from code (an event's title/message), as plain text."""
    try:
        return _engine().from_string(source).render(Context(context, autoescape=False)).strip()
    except Exception:
        logger.exception("notification template string failed to render")
        return ""


def render_template(names: list[str], context: dict[str, Any], *, html: bool) -> str | None:
    """The first of `names` that exists, rendered; None if none renders."""
    try:
        template = _engine().select_template(names)
        return template.render(Context(context, autoescape=html)).strip()
    except Exception:
        logger.exception("notification template failed to render", extra={"templates": ",".join(names)})
        return None


def safe_action_url(url: str) -> str:
    """A site-relative path or an http(s) URL; anything else (javascript:, //host) is dropped
    because it ends up in an href."""
    url = (url or "").strip()
    if any(ord(c) < 32 for c in url) or "\\" in url:
        return ""
    if url.startswith("/") and not url.startswith("//"):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme in ("http", "https") and parts.netloc else ""


def absolute_url(url: str) -> str:
    """An action URL as outbound messages show it: site-relative paths are joined to
    NOTIFICATIONS_BASE_URL (the HR platform's address) when it is set, so email and Slack
    links work outside the app; in-app notifications keep the relative path."""
    base = django_settings.NOTIFICATIONS_BASE_URL
    if base and url.startswith("/") and not url.startswith("//"):
        return base.rstrip("/") + url
    return url


def render_event(event: "EventType", *, data: dict[str, Any], organization_name: str) -> RenderedNotification:
    context = {**data, "organization_name": organization_name}
    title = render_string(event.title, context) or event.name.replace("_", " ").capitalize()
    return RenderedNotification(
        title=title[:200],
        message=render_string(event.message, context),
        action_url=safe_action_url(render_string(event.action_url, context))[:500],
    )


def render_email(
    *,
    template: str,
    notification: RenderedNotification,
    data: dict[str, Any],
    organization_name: str,
    recipient_name: str,
    priority: str,
) -> dict[str, str]:
    """{"subject", "text", "html"} from templates/notifications/<template>.txt/.html."""
    context = {
        **data,
        "title": notification.title,
        "message": notification.message,
        "action_url": absolute_url(notification.action_url),
        "organization_name": organization_name,
        "recipient_name": recipient_name,
        "priority": priority,
    }
    names = [f"notifications/{template}", f"notifications/{GENERIC_TEMPLATE}"]
    text = render_template([f"{n}.txt" for n in names], context, html=False)
    html = render_template([f"{n}.html" for n in names], context, html=True)
    if text is None:
        text = f"{notification.title}\n\n{notification.message}\n"
    subject = " ".join(notification.title.split())  # a header: no line breaks
    return {"subject": subject[:200], "text": text, "html": html or ""}


def email_renderer(
    *, template: str, notification: RenderedNotification, data: dict[str, Any], organization_name: str, priority: str
) -> Callable[[str], dict[str, str]]:
    """render_email for one recipient name after another (a fan-out to thousands).

    The templates render once with a placeholder for the name, which each recipient's name
    then replaces (escaped in the HTML). That is only right when the templates print the
    name as it is: rendering with two different placeholders must give the same text but
    for the placeholder. Otherwise (a filter on the name, a test of its value) every
    recipient is rendered in full."""

    def full(name: str) -> dict[str, str]:
        return render_email(
            template=template,
            notification=notification,
            data=data,
            organization_name=organization_name,
            recipient_name=name,
            priority=priority,
        )

    one, two = (f"rcpt{secrets.token_hex(8)}" for _ in range(2))
    first, second = full(one), full(two)
    if any(first[key].replace(one, two) != second[key] for key in first) or one in first["subject"]:
        return full

    def fill(name: str) -> dict[str, str]:
        return {
            "subject": first["subject"],
            "text": first["text"].replace(one, name),
            # What django.utils.html.escape gives, without its lazy-string wrapper per call.
            "html": first["html"].replace(one, html.escape(name)),
        }

    return fill


def render_sms(notification: RenderedNotification) -> str:
    body = f"{notification.title}: {notification.message}" if notification.message else notification.title
    return body[:SMS_MAX_CHARS]


def slack_escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_slack(notification: RenderedNotification, *, organization_name: str, priority: str) -> dict[str, Any]:
    """An incoming-webhook payload: `text` (the notification fallback) and `blocks`."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": notification.title[:SLACK_HEADER_MAX]}},
    ]
    if notification.message:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": slack_escape(notification.message)[:SLACK_SECTION_MAX]},
            }
        )
    context = f"{slack_escape(organization_name)} · priority {priority}"
    action_url = absolute_url(notification.action_url)
    if action_url.startswith(("http://", "https://")):
        context += f" · <{action_url}|Open>"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {
        "text": slack_escape(
            f"{notification.title}: {notification.message}" if notification.message else notification.title
        ),
        "blocks": blocks,
    }


def render_digest(
    *,
    items: list[dict[str, Any]],
    frequency: str,
    organization_name: str,
    recipient_name: str,
) -> dict[str, str]:
    """The digest email; `items` are {"title", "time", "action_url", "priority"}."""
    count = len(items)
    subject = f"Your {frequency} digest: {count} unread notification{'s' if count != 1 else ''}"
    context = {
        "items": items,
        "count": count,
        "frequency": frequency,
        "organization_name": organization_name,
        "recipient_name": recipient_name,
        "title": subject,
    }
    text = render_template(["notifications/digest.txt"], context, html=False)
    html = render_template(["notifications/digest.html"], context, html=True)
    if text is None:
        text = subject + "\n\n" + "\n".join(f"- {i['title']} ({i['time']})" for i in items) + "\n"
    return {"subject": subject, "text": text, "html": html or ""}
