"""One hub per process holds every open stream and reads the database for all of them.

Streams subscribe with a user and a cursor (a `notifications.seq`). When something may
have changed, the hub runs two queries for every affected open stream together — the new
rows past the lowest cursor, and the unread counts — and hands each stream its own events.
A notification to 1,000 people with 1,000 open streams is two queries, not 2,000.

What "may have changed" means:
- PostgreSQL: LISTEN on `hcm_notifications`; the triggers of migration 0005 NOTIFY the
  affected user ids after each insert, read or delete commits. A lost LISTEN connection
  falls back to polling (every NOTIFICATIONS_STREAM_POLL_SECONDS) until it is back.
- SQLite: every NOTIFICATIONS_STREAM_POLL_SECONDS, `PRAGMA data_version` (one cheap read)
  says whether any other connection committed; only then are the two queries run.

Database work runs on one dedicated thread with its own Django connection, kept open
whatever CONN_MAX_AGE says (one per process, like a worker's) and reopened after an error,
so it never borrows a request's thread and never blocks the event loop. The database is the source of
truth: a stream that falls too far behind is closed, and its client resumes from its
Last-Event-ID without losing anything.
"""

import asyncio
import contextvars
import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Max

from notifications.shapes import NOTIFICATION_FIELDS

logger = logging.getLogger(__name__)

NOTIFY_CHANNEL = "hcm_notifications"
BATCH = 500  # rows read per query; a long backlog is read in several
QUEUE_MAX = 2000  # events waiting for a slow client before its stream is closed


@dataclass(eq=False)
class Subscriber:
    """One open stream. `cursor` is the seq of the last notification it was sent; None
    until the hub has set it to "now" (a stream opened without Last-Event-ID)."""

    user_id: int
    cursor: int | None
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    unread: int | None = None
    closed: bool = False

    def put(self, event: str) -> None:
        if self.closed:
            return
        if self.queue.qsize() >= QUEUE_MAX:
            # The client is not reading; it will reconnect and resume from the database.
            self.closed = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(event)


def sse(event: str, data: Any, *, id: int | None = None) -> str:
    lines = [f"id: {id}"] if id is not None else []
    lines += [f"event: {event}", f"data: {json.dumps(data, separators=(',', ':'))}"]
    return "\n".join(lines) + "\n\n"


class Hub:
    def __init__(self) -> None:
        self._subscribers: dict[int, set[Subscriber]] = defaultdict(set)
        self._pending: set[int] = set()
        self._pending_all = False
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notification-stream")
        self._tasks: list[asyncio.Task] = []
        self._listening = asyncio.Event()  # PostgreSQL: LISTEN is active
        self._data_version: int | None = None

    @property
    def is_postgresql(self) -> bool:
        return connection.vendor == "postgresql"

    # --- streams ------------------------------------------------------------------------

    async def subscribe(self, *, user_id: int, cursor: int | None) -> Subscriber:
        await self._start()
        subscriber = Subscriber(user_id=user_id, cursor=cursor)
        self._subscribers[user_id].add(subscriber)
        # The first refresh sets a missing cursor to "now" and sends the unread count (and
        # the backlog past a given cursor). Refreshes run one at a time, after this
        # registration, so nothing committed from here on can slip between them.
        self.changed([user_id])
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        subscriber.closed = True
        mine = self._subscribers.get(subscriber.user_id)
        if mine is not None:
            mine.discard(subscriber)
            if not mine:
                del self._subscribers[subscriber.user_id]

    @property
    def open_streams(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    def changed(self, user_ids: Iterable[int] | None) -> None:
        """Something may have changed for these users (None: for anyone)."""
        if user_ids is None:
            self._pending_all = True
        else:
            self._pending.update(u for u in user_ids if u in self._subscribers)
        if self._pending_all or self._pending:
            self._wake.set()

    # --- background tasks ---------------------------------------------------------------

    async def _start(self) -> None:
        if not self._tasks:
            # A fresh context: the tasks must not inherit the request that happened to start them.
            ctx = contextvars.Context()
            loop = asyncio.get_running_loop()
            self._tasks.append(loop.create_task(self._refresher(), context=ctx))
            if self.is_postgresql:
                self._tasks.append(loop.create_task(self._listener(), context=ctx))
            self._tasks.append(loop.create_task(self._poller(), context=ctx))
        if self.is_postgresql:
            # Subscribing before LISTEN is active could miss a NOTIFY; the poller covers a
            # listener that cannot connect.
            try:
                await asyncio.wait_for(self._listening.wait(), timeout=5)
            except TimeoutError:
                logger.warning("notification stream: LISTEN not active; polling")

    async def _run_db(self, func, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, func, *args)

    async def _refresher(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            everyone, users = self._pending_all, self._pending
            self._pending_all, self._pending = False, set()
            targets = list(self._subscribers) if everyone else [u for u in users if u in self._subscribers]
            if not targets:
                continue
            try:
                await self._refresh(targets)
            except Exception:
                logger.exception("notification stream refresh failed; retrying")
                await self._run_db(connection.close)
                self.changed(targets)
                await asyncio.sleep(1)

    async def _refresh(self, user_ids: list[int]) -> None:
        subscribers = [s for u in user_ids for s in self._subscribers.get(u, ())]
        if not subscribers:
            return
        # Every row up to `head` is committed and visible (seq is given in commit order), so
        # what the read below returns for these users is all they have up to there.
        head = await self._run_db(_head)
        for s in subscribers:
            if s.cursor is None:  # opened without Last-Event-ID: from now on
                s.cursor = head
        cursors = [s.cursor for s in subscribers if s.cursor is not None]
        started = time.monotonic()
        rows, counts = await self._run_db(_changes, user_ids, min(cursors))
        read_ms = (time.monotonic() - started) * 1000
        # Every row of these users up to `head` has been read, so each of their streams has
        # nothing left below it: moving all their cursors there keeps the next read short
        # (seq is shared by every user: a quiet user's cursor would otherwise stay far behind).
        head = max([head, *(seq for seq, _, _ in rows)])
        by_user: dict[int, list[tuple[int, dict]]] = defaultdict(list)
        for seq, user_id, payload in rows:
            by_user[user_id].append((seq, payload))
        for s in subscribers:
            if s.closed:
                continue
            cursor = s.cursor if s.cursor is not None else head
            fresh = [(seq, p) for seq, p in by_user.get(s.user_id, ()) if seq > cursor]
            for seq, payload in fresh:
                s.put(sse("notification", payload, id=seq))
                s.cursor = seq
            if s.cursor is None or head > s.cursor:
                s.cursor = head
            count = counts.get(s.user_id, 0)
            if fresh or count != s.unread:
                s.unread = count
                s.put(sse("unread", {"count": count}, id=s.cursor))
        logger.debug(
            "notification stream refresh",
            extra={"streams": len(subscribers), "rows": len(rows), "read_ms": round(read_ms, 1)},
        )

    async def _poller(self) -> None:
        interval = settings.NOTIFICATIONS_STREAM_POLL_SECONDS
        while True:
            await asyncio.sleep(interval)
            if not self._subscribers:
                continue
            if self.is_postgresql:
                if not self._listening.is_set():
                    self.changed(None)
                continue
            try:
                if await self._run_db(self._sqlite_changed):
                    self.changed(None)
            except Exception:
                logger.exception("notification stream poll failed")
                await self._run_db(connection.close)

    def _sqlite_changed(self) -> bool:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA data_version")
            version = cursor.fetchone()[0]
        changed = version != self._data_version
        self._data_version = version
        return changed

    async def _listener(self) -> None:
        """LISTEN on its own async psycopg connection (not one of Django's)."""
        import psycopg

        params = await self._run_db(_listen_params)
        backoff = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(**params, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self._listening.set()
                    backoff = 0.5
                    # Whatever changed while nobody was listening is read now.
                    self.changed(None)
                    async for notify in conn.notifies():
                        payload = notify.payload
                        if payload == "*" or not payload:
                            self.changed(None)
                        else:
                            self.changed(int(u) for u in payload.split(",") if u.isdigit())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._listening.clear()
                backoff = min(backoff * 2, 30.0)
                logger.warning(
                    "notification stream LISTEN connection lost; polling meanwhile",
                    extra={"error": str(exc).strip()[:200], "retry_in_s": backoff},
                )
                await asyncio.sleep(backoff)


def _listen_params() -> dict[str, Any]:
    params = dict(connection.get_connection_params())
    for key in ("context", "cursor_factory", "prepare_threshold", "server_side_binding", "pool"):
        params.pop(key, None)
    params.setdefault("connect_timeout", 10)
    return params


def _head() -> int:
    """The newest seq of all (0: none yet)."""
    from notifications.models import Notification

    return Notification.objects.aggregate(head=Max("seq"))["head"] or 0


def _iso(value: datetime | None) -> str | None:
    # As DRF renders datetimes in the API (UTC with "Z").
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _payload(row: dict) -> dict:
    """A notification as GET /api/notifications/{id} shows it (NotificationSerializer's
    fields), built from a values() row: a fan-out to 1,000 open streams renders 1,000."""
    return {
        **{name: row[name] for name in NOTIFICATION_FIELDS},
        "read_at": _iso(row["read_at"]),
        "sent_at": _iso(row["sent_at"]),
        "created_at": _iso(row["created_at"]),
    }


def _changes(user_ids: list[int], after: int) -> tuple[list[tuple[int, int, dict]], dict[int, int]]:
    """New notifications of these users past `after` (in seq order), and their unread counts."""
    from notifications.models import Notification

    rows: list[tuple[int, int, dict]] = []
    cursor = after
    while True:
        batch = list(
            Notification.objects.filter(user_id__in=user_ids, seq__gt=cursor)
            .order_by("seq")
            .values("seq", "user_id", *NOTIFICATION_FIELDS)[:BATCH]
        )
        rows += [(r["seq"], r["user_id"], _payload(r)) for r in batch]
        if len(batch) < BATCH:
            break
        cursor = batch[-1]["seq"]
    counts = dict(
        Notification.objects.filter(user_id__in=user_ids, read_at__isnull=True)
        .values("user_id")
        .annotate(n=Count("id"))
        .values_list("user_id", "n")
    )
    return rows, counts


_hub: Hub | None = None
_hub_loop: asyncio.AbstractEventLoop | None = None


def get_hub() -> Hub:
    """This process's hub, bound to the running event loop."""
    global _hub, _hub_loop
    loop = asyncio.get_running_loop()
    if _hub is None or _hub_loop is not loop:
        _hub, _hub_loop = Hub(), loop
    return _hub
