"""Stream tickets: POST /api/notifications/stream-ticket → a token that opens one stream.

Only a SHA-256 of the token is stored; a ticket is redeemed with one compare-and-set
UPDATE, so two requests with the same ticket cannot both succeed.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from hcm.models import User
from notifications.models import StreamTicket


@dataclass(frozen=True)
class IssuedTicket:
    ticket: str
    expires_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def stream_ticket_issue(*, user: User) -> IssuedTicket:
    token = secrets.token_urlsafe(32)
    expires_at = timezone.now() + timedelta(seconds=settings.NOTIFICATIONS_STREAM_TICKET_SECONDS)
    StreamTicket.objects.create(digest=_digest(token), user=user, expires_at=expires_at)
    return IssuedTicket(ticket=token, expires_at=expires_at)


def stream_ticket_redeem(*, ticket: str) -> User | None:
    """The ticket's user, once: None for an unknown, used or expired ticket or an inactive user."""
    if not ticket or len(ticket) > 100:
        return None
    digest = _digest(ticket)
    now = timezone.now()
    if not StreamTicket.objects.filter(pk=digest, used_at__isnull=True, expires_at__gt=now).update(used_at=now):
        return None
    owner = StreamTicket.objects.filter(pk=digest).values("user_id")[:1]
    return User.objects.filter(pk=owner, is_active=True).first()


def stream_tickets_purge(*, organization_id: str | None = None, older_than: timedelta = timedelta(hours=1)) -> int:
    """Delete tickets expired more than `older_than` ago (one organization's users', or all)."""
    expired = StreamTicket.objects.filter(expires_at__lt=timezone.now() - older_than)
    if organization_id:
        expired = expired.filter(user__organization_id=organization_id)
    deleted, _ = expired.delete()
    return deleted
