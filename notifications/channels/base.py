"""What a delivery channel is, and the registry of them.

A channel is one class in one module of this package (or of NOTIFICATIONS_CHANNEL_MODULES),
registered with `@register_channel`. It says everything the rest of the app needs to know
about it: its key, the settings toggle that turns it on and the settings fields that
configure it, who it can reach and at what address, how it renders a notification, how it
sends one, and which stored values are credentials that no error may carry. The fan-out,
deliveries, the admin and the settings API read the registry; none lists channels by hand.

This module imports no models: Delivery.channel's choices come from here.
"""

import importlib
import pkgutil
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from hcm.models import User
    from notifications.models import Delivery, NotificationSettings
    from notifications.rendering import RenderedNotification

IN_APP = "in_app"  # always on: the notification row itself, no delivery


class Audience:
    RECIPIENTS = "recipients"  # one delivery per recipient, at the recipient's address
    ORGANIZATION = "organization"  # one delivery per notification event, to the organization's endpoint


class DeliveryError(Exception):
    """Not sent. `permanent`: retrying cannot help (bad address, webhook gone, 4xx).
    `retry_after`: the provider said when to come back (429). Otherwise transient
    (5xx, timeouts, network errors), retried with the job system's backoff."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


@dataclass(frozen=True)
class Outgoing:
    """One message before it is addressed: what every channel renders from."""

    type: str
    priority: str
    rendered: "RenderedNotification"
    data: dict[str, Any]
    email_template: str
    organization_name: str
    organization_id: str = ""
    notification_ids: list[str] = field(default_factory=list)


class Channel:
    key: ClassVar[str]
    label: ClassVar[str]
    order: ClassVar[int] = 100  # where it is listed (admin sections, choices)
    audience: ClassVar[str] = Audience.RECIPIENTS
    # The NotificationSettings boolean that turns the channel on for the organization.
    master_toggle: ClassVar[str]
    # The fields that configure it (shown together in the admin, in this order).
    settings_fields: ClassVar[tuple[str, ...]] = ()
    # Settings fields holding credentials: never in an error, a log line or the admin.
    secret_fields: ClassVar[tuple[str, ...]] = ()
    # Every event goes out on this channel when it is on (an outbound webhook), instead of
    # the events that name it in their toggles.
    every_event: ClassVar[bool] = False
    # A delivery that fails for good is replaced by email to its recipients (channel
    # fallback): for channels that reach people, not for machine endpoints.
    falls_back_to_email: ClassVar[bool] = True

    def available(self, settings: "NotificationSettings") -> bool:
        """On for the organization, and configured enough to try."""
        return bool(getattr(settings, self.master_toggle))

    def addresses(self, users: list["User"], settings: "NotificationSettings") -> dict[int, str]:
        """RECIPIENTS channels: user id → address, for the users it can reach."""
        return {}

    def endpoint_hint(self, settings: "NotificationSettings") -> str:
        """ORGANIZATION channels: what the delivery row shows as its recipient (never a
        credential)."""
        return self.key

    def render(self, message: Outgoing, *, user: "User | None") -> dict[str, Any]:
        """The delivery's stored content (rendered when the event happened)."""
        raise NotImplementedError

    def renderer(self, message: Outgoing) -> Callable[["User"], dict[str, Any]]:
        """render() for one recipient after another: a fan-out calls this once per event.
        A channel whose content varies little between recipients renders the shared part once."""
        return lambda user: self.render(message, user=user)

    def send(self, delivery: "Delivery", settings: "NotificationSettings") -> str | None:
        """Send now; the provider's message id (or None). Raise DeliveryError otherwise."""
        raise NotImplementedError

    def secrets(self, settings: "NotificationSettings") -> list[str]:
        """The credential values to scrub from any error text."""
        return [str(v) for name in self.secret_fields if (v := getattr(settings, name, None))]


_CHANNELS: dict[str, Channel] = {}


def register_channel(cls: type[Channel]) -> type[Channel]:
    existing = _CHANNELS.get(cls.key)
    if existing is not None and type(existing).__qualname__ != cls.__qualname__:
        raise ValueError(f"channel {cls.key!r} is already registered by {type(existing).__module__}")
    if cls.key == IN_APP or len(cls.key) > 10:
        raise ValueError(f"channel key {cls.key!r}: reserved, or longer than 10 characters")
    _CHANNELS[cls.key] = cls()
    return cls


_loaded = False
_load_lock = threading.RLock()


def _load() -> None:
    """Import every channel module once (the app's ready() does it at startup)."""
    global _loaded
    if _loaded:
        return
    with _load_lock:  # handler threads may ask at once; the reentrant lock lets imports nest
        if _loaded:
            return
        from django.conf import settings

        import notifications.channels

        for module in pkgutil.iter_modules(notifications.channels.__path__):
            if module.name not in ("base", "http"):
                importlib.import_module(f"notifications.channels.{module.name}")
        for name in getattr(settings, "NOTIFICATIONS_CHANNEL_MODULES", []):
            importlib.import_module(name)
        _loaded = True


def channels() -> list[Channel]:
    """Every outbound channel, in its `order`."""
    _load()
    return sorted(_CHANNELS.values(), key=lambda c: (c.order, c.key))


def get_channel(key: str) -> Channel | None:
    _load()
    return _CHANNELS.get(key)


def channel_keys() -> list[str]:
    return [c.key for c in channels()]


def channel_choices() -> list[tuple[str, str]]:
    """Delivery.channel's choices (a callable: the registry is the one list)."""
    return [(c.key, c.label) for c in channels()]


def all_channel_choices() -> list[tuple[str, str]]:
    return [(IN_APP, "In-app"), *channel_choices()]


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every credential (and its URL path, which carries the secret of a
    webhook URL) replaced by a mask."""
    from urllib.parse import urlsplit

    for secret in secrets:
        if not secret:
            continue
        parts = [secret, secret.strip()]
        try:
            split = urlsplit(secret.strip())
            if split.path and len(split.path) > 1:
                parts.append(split.path)
                parts.extend(p for p in split.path.split("/") if len(p) >= 6)
            if split.query:
                parts.append(split.query)
        except ValueError:
            pass
        # Also as repr() and exceptions show them (a CR/LF in a URL comes out as "\\r\\n").
        parts += [p.encode("unicode_escape").decode() for p in parts]
        for part in sorted(set(parts), key=len, reverse=True):
            if part and len(part) >= 6:
                text = text.replace(part, "…")
    return text
