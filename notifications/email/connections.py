"""Email connections kept open between messages: one per worker thread and provider.

Opening an SMTP connection (TCP, greeting, EHLO, maybe STARTTLS and AUTH) costs more than
sending a small message, and a fan-out sends thousands. A thread takes its connection out
of the pool to send and puts it back after a success; while it is out nobody else can use
or close it. A connection that failed is closed, never put back: the next message opens a
new one, and only the message that failed is retried (by its job). One idle for more than
IDLE_SECONDS is closed by a reaper thread; the rest are closed (QUIT) when the process exits.
"""

import atexit
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings as django_settings

logger = logging.getLogger(__name__)

IDLE_SECONDS = 30.0
# A connection unused for longer is checked (SMTP NOOP) before it carries a message: a
# server may have dropped it, and finding out mid-message would leave it unclear whether
# the message went.
CHECK_AFTER_SECONDS = 2.0


@dataclass
class _Pooled:
    backend: Any
    last_used: float


class EmailConnectionPool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[tuple, _Pooled] = {}
        self._reaper: threading.Thread | None = None
        self.opened = 0  # connections opened by this process (for tests and the bench)

    def send(self, key: tuple, open_backend: Callable[[], Any], send: Callable[[Any], None]) -> None:
        """send(backend) on this thread's open connection for `key`, or a new one from
        open_backend(). Whatever send() raises closes the connection and propagates."""
        slot = (threading.get_ident(), key)
        with self._lock:
            pooled = self._idle.pop(slot, None)
        backend = self._usable(pooled)
        if backend is None:
            backend = open_backend()
            backend.open()
            self.opened += 1
        try:
            send(backend)
        except BaseException:
            _close(backend)
            raise
        with self._lock:
            self._idle[slot] = _Pooled(backend, time.monotonic())
            if self._reaper is None:
                self._reaper = threading.Thread(target=self._reap_forever, name="email-connection-reaper", daemon=True)
                self._reaper.start()

    def _usable(self, pooled: _Pooled | None) -> Any:
        if pooled is None:
            return None
        idle = time.monotonic() - pooled.last_used
        if idle > IDLE_SECONDS:
            _close(pooled.backend)
            return None
        smtp = getattr(pooled.backend, "connection", None)
        if idle > CHECK_AFTER_SECONDS and hasattr(smtp, "noop"):
            try:
                code, _ = smtp.noop()  # type: ignore[union-attr]
            except Exception:
                code = 0
            if code != 250:
                _close(pooled.backend)
                return None
        return pooled.backend

    def close_idle(self, older_than: float = IDLE_SECONDS) -> int:
        """Close the connections unused for `older_than` seconds (0: all idle ones)."""
        now = time.monotonic()
        with self._lock:
            stale = [slot for slot, p in self._idle.items() if now - p.last_used >= older_than]
            closing = [self._idle.pop(slot) for slot in stale]
        for pooled in closing:
            _close(pooled.backend)
        return len(closing)

    def _reap_forever(self) -> None:
        while True:
            time.sleep(IDLE_SECONDS / 3)
            self.close_idle()


def _close(backend: Any) -> None:
    try:
        backend.close()
    except Exception:  # a dead connection cannot even say QUIT: it is gone either way
        logger.debug("email connection close failed", exc_info=True)


pool = EmailConnectionPool()
atexit.register(pool.close_idle, 0)


def connection_key(provider_key: str, backend_path: str, options: dict[str, Any]) -> tuple:
    """What a pooled connection was opened with: another server or account is another one."""
    s = django_settings
    return (
        provider_key,
        backend_path,
        repr(sorted(options.items())),
        s.EMAIL_HOST,
        s.EMAIL_PORT,
        s.EMAIL_HOST_USER,
        s.EMAIL_USE_TLS,
        s.EMAIL_USE_SSL,
    )
