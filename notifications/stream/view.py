"""GET /api/notifications/stream: the caller's new notifications and unread count as
Server-Sent Events. A plain async Django view (not DRF): under an ASGI server an open
stream holds no thread, only a coroutine.

Authentication, first match: `?ticket=` (POST /api/notifications/stream-ticket; single
use), `Authorization: Bearer <access token>`, or the session of the notification center
page. Resume with the `Last-Event-ID` header (EventSource sends it by itself on reconnect)
or `?last_event_id=` (for a client that opens a new EventSource, which cannot set headers).

Events:
    id: <cursor>                 (every event carries the position to resume from)
    event: unread                data: {"count": 3}             (on open, and on every change)
    event: notification          data: {<the notification, as GET /api/notifications/{id}>}
    : heartbeat                  (a comment every NOTIFICATIONS_STREAM_HEARTBEAT_SECONDS)
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_GET

from hcm.models import User
from notifications.stream.hub import Subscriber, get_hub
from notifications.stream.tickets import stream_ticket_redeem

logger = logging.getLogger(__name__)

RETRY_MS = 2000  # how long EventSource waits before reconnecting


class StreamAuthError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _authenticate_sync(request: HttpRequest) -> tuple[User, float | None]:
    """(user, token expiry as a UNIX time or None)."""
    ticket = request.GET.get("ticket")
    if ticket is not None:
        ticket_user = stream_ticket_redeem(ticket=ticket)
        if ticket_user is None:
            raise StreamAuthError(401, "The stream ticket is unknown, used or expired; ask for a new one.")
        return ticket_user, None
    if request.META.get("HTTP_AUTHORIZATION"):
        from rest_framework.exceptions import AuthenticationFailed
        from rest_framework_simplejwt.authentication import JWTAuthentication

        try:
            # simplejwt reads only the Authorization header, which a plain HttpRequest has.
            result = JWTAuthentication().authenticate(request)  # type: ignore[arg-type]
        except AuthenticationFailed as exc:
            raise StreamAuthError(
                401, str(exc.detail.get("detail", exc.detail)) if isinstance(exc.detail, dict) else str(exc.detail)
            ) from None
        if result is None:
            raise StreamAuthError(401, "Authentication credentials were not provided.")
        token_user, token = result
        if not isinstance(token_user, User):
            raise StreamAuthError(401, "Authentication credentials were not provided.")
        return token_user, float(token["exp"])
    session_user = request.user  # the session (the notification center page)
    if not isinstance(session_user, User) or not session_user.is_authenticated:
        raise StreamAuthError(401, "Authentication credentials were not provided.")
    return session_user, None


def _cursor(request: HttpRequest) -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise StreamAuthError(400, "Invalid last_event_id: must be an event id this stream sent (a number).")
    return int(raw)


@require_GET
async def notification_stream(request: HttpRequest) -> HttpResponseBase:
    if not isinstance(request, ASGIRequest):
        # Under WSGI Django would collect the endless stream into memory and hold the
        # worker for good: refuse, loudly. Route this path to the ASGI process (README).
        logger.error("notification stream requested from a WSGI server; route it to the ASGI process")
        return JsonResponse(
            {"detail": "The notification stream is served by the ASGI process (daphne), not this WSGI server."},
            status=503,
        )
    try:
        cursor = _cursor(request)
        # Not thread-sensitive: a thread-sensitive call would give this request a thread of its
        # own, kept (idle) for as long as the stream is open.
        user, token_expires = await sync_to_async(_authenticate_sync, thread_sensitive=False)(request)
    except StreamAuthError as exc:
        response = JsonResponse({"detail": exc.detail}, status=exc.status)
        if exc.status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response
    if not user.organization_id:
        return JsonResponse({"detail": "Your account does not belong to an organization."}, status=403)

    deadline = time.time() + settings.NOTIFICATIONS_STREAM_MAX_SECONDS
    if token_expires is not None:
        deadline = min(deadline, token_expires)
    hub = get_hub()
    subscriber = await hub.subscribe(user_id=user.pk, cursor=cursor)
    stream = StreamingHttpResponse(_events(hub, subscriber, deadline), content_type="text/event-stream")
    stream["Cache-Control"] = "no-cache, no-transform"
    stream["X-Accel-Buffering"] = "no"  # nginx: pass events through at once
    return stream


async def _events(hub, subscriber: Subscriber, deadline: float) -> AsyncIterator[str]:
    heartbeat = settings.NOTIFICATIONS_STREAM_HEARTBEAT_SECONDS
    try:
        yield f"retry: {RETRY_MS}\n\n"
        while True:
            remaining = deadline - time.time()
            if remaining <= 0:
                return  # the token expired (or the longest stream): the client reconnects
            try:
                event = await asyncio.wait_for(subscriber.queue.get(), timeout=min(heartbeat, remaining))
            except TimeoutError:
                yield ": heartbeat\n\n"
                continue
            if event is None:  # closed by the hub (a client that stopped reading)
                return
            yield event
    finally:
        hub.unsubscribe(subscriber)
