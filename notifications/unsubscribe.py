"""One-click unsubscribe (RFC 8058) for notification emails.

Every event email carries `List-Unsubscribe: <SITE_URL/notifications/unsubscribe/TOKEN>`
and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`. TOKEN is signed with SECRET_KEY
over (user id, event): changing either breaks the signature, so a link cannot be turned
into one for another person or another event. It needs no login; a POST to it (what mail
clients send, and what the confirmation page's button sends) turns that person's email
for that event off. A GET only shows the confirmation page: mail scanners fetch links.
"""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.signing import b64_encode
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.utils.encoding import force_bytes
from django.utils.html import escape

SALT = "notifications.unsubscribe"


class InvalidUnsubscribeLink(ValueError):
    pass


def unsubscribe_token(*, user_id: int, event: str) -> str:
    return signing.dumps([user_id, event], salt=SALT, compress=True)


def unsubscribe_token_read(token: str) -> tuple[int, str]:
    """(user id, event) of a genuine token; InvalidUnsubscribeLink otherwise."""
    try:
        value = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise InvalidUnsubscribeLink("This unsubscribe link is not valid.") from None
    if not isinstance(value, list) or len(value) != 2 or not isinstance(value[0], int) or not isinstance(value[1], str):
        raise InvalidUnsubscribeLink("This unsubscribe link is not valid.")
    return value[0], value[1]


def unsubscribe_url(*, user_id: int, event: str) -> str | None:
    """The absolute link, or None when SITE_URL is not set (system check notifications.W001)."""
    if not settings.SITE_URL:
        return None
    path = reverse("notifications-unsubscribe", kwargs={"token": unsubscribe_token(user_id=user_id, event=event)})
    return settings.SITE_URL.rstrip("/") + path


def with_unsubscribe(content: dict[str, Any], *, user: Any, event: str) -> dict[str, Any]:
    """An email delivery's content with the RFC 8058 headers and a visible link added."""
    return unsubscriber(event)(content, user.pk)


class _KeyedOnceSigner(signing.TimestampSigner):
    """TimestampSigner with the same signatures, its HMAC keyed once: salted_hmac derives
    the key (a hash of salt and secret) again for every signature, and a fan-out signs one
    token per recipient."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._keyed = salted_hmac(force_bytes(self.salt) + b"signer", b"", self.key, algorithm=self.algorithm)

    def signature(self, value: str | bytes, key: str | bytes | None = None) -> str:
        if key is not None and key != self.key:  # unsign() trying SECRET_KEY_FALLBACKS
            return super().signature(value, key)
        mac = self._keyed.copy()
        mac.update(force_bytes(value))
        return b64_encode(mac.digest()).decode()


def unsubscriber(event: str) -> Callable[[dict[str, Any], int], dict[str, Any]]:
    """with_unsubscribe for one user after another (a fan-out): the link's path, the
    signer and the footer are made once per event; per user, only the token is signed."""
    if not settings.SITE_URL:
        return lambda content, user_id: content
    signer = _KeyedOnceSigner(salt=SALT)  # what signing.dumps uses: unsubscribe_token_read reads it
    marker = "TOKEN-PLACEHOLDER"
    base = settings.SITE_URL.rstrip("/") + reverse("notifications-unsubscribe", kwargs={"token": marker})
    before, after = base.split(marker)
    # A signed token is URL-safe base64 and ':' only: nothing in it needs escaping, so the
    # link's HTML form is the escaped rest around the token.
    html_before, html_after = escape(before), escape(after)
    label = event.replace("_", " ")

    def add(content: dict[str, Any], user_id: int) -> dict[str, Any]:
        token = signer.sign_object([user_id, event], compress=True)
        url = before + token + after
        html = content.get("html") or ""
        if html:
            href = html_before + token + html_after
            link = f'<p style="font-size:12px;color:#666"><a href="{href}">Unsubscribe from these emails</a></p>'
            html = html.replace("</body>", link + "</body>") if "</body>" in html else html + link
        return {
            **content,
            "text": content.get("text", "").rstrip("\n") + f"\n\n--\nStop these emails ({label}): {url}\n",
            "html": html,
            "headers": {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        }

    return add
