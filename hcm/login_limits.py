"""Password guessing limits, and the failed-login log line.

Every login attempt (the token endpoint, the admin login, the browsable API's login) counts
against two budgets: settings.RATE_LIMITS["login_ip"] for the client address and
["login_username"] for the username tried, whether or not that user exists. Attempts are
counted before the password is checked, with django-ratelimit's atomic counters, so the
limit holds exactly when attempts arrive in parallel on several web processes; successful
attempts count too. The three doors share the budgets: switching door gains nothing.
"""

import hashlib
import ipaddress
import logging
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django_ratelimit import ALL
from django_ratelimit.core import get_usage

logger = logging.getLogger(__name__)

# Longer usernames are cut in the log (User.username holds at most 150 characters).
_USERNAME_LOG_LENGTH = 150


@dataclass(frozen=True)
class LoginRefused:
    limit: str  # the settings.RATE_LIMITS entry that is spent
    rate: str
    retry_after: int  # seconds until the window that is spent ends

    @property
    def message(self) -> str:
        who = "from your address" if self.limit == "login_ip" else "for this username"
        return f"Too many login attempts {who}."


def client_address(request: Any) -> str:
    """The address a login attempt counts against: REMOTE_ADDR, or the header named by
    settings.LOGIN_CLIENT_IP_HEADER when a reverse proxy sets it. IPv6 counts per /64,
    the block one subscriber usually holds."""
    remote = request.META.get("REMOTE_ADDR", "")
    header = settings.LOGIN_CLIENT_IP_HEADER
    if header:
        value = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
        # In X-Forwarded-For the client writes the first entries; the proxy appends the last.
        candidate = value.split(",")[-1].strip()
        remote = candidate if _is_ip(candidate) else remote
    if not _is_ip(remote):
        return remote  # e.g. a Unix socket: every attempt shares one budget, which fails safe
    ip = ipaddress.ip_address(remote)
    if ip.version == 6 and ip.ipv4_mapped:  # a dual-stack socket's IPv4 client
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address)
    return str(ip)


def login_attempt_check(request: Any, *, username: str | None) -> LoginRefused | None:
    """Count one login attempt; the refusal if it is over a budget (then nothing is checked).

    `request` is Django's or DRF's; `username` is what was typed (None if absent).
    """
    budgets = [("login_ip", client_address(request))]
    if username:
        budgets.append(("login_username", _username_key(username)))
    for name, value in budgets:
        rate = settings.RATE_LIMITS[name]
        usage = get_usage(
            getattr(request, "_request", request),
            group=f"hcm.{name}",
            key=lambda group, req, value=value: value,
            rate=rate,
            method=ALL,
            increment=True,
        )
        if usage and usage["should_limit"]:
            refused = LoginRefused(limit=name, rate=rate, retry_after=max(1, usage["time_left"]))
            logger.warning(
                "login refused: too many attempts",
                extra={
                    "username": (username or "")[:_USERNAME_LOG_LENGTH],
                    "client": client_address(request),
                    "limit": name,
                    "rate": rate,
                },
            )
            return refused
    return None


def login_rate_limited(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """A Django login view (admin, browsable API) whose POSTs count against the budgets;
    one over a budget gets a 429 page saying when to try again."""

    @wraps(view)
    def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "POST":
            refused = login_attempt_check(request, username=request.POST.get(get_user_model().USERNAME_FIELD))
            if refused:
                from django.contrib import admin  # not at import: runworker loads this module, not the admin

                context = {
                    **admin.site.each_context(request),
                    "title": "Too many login attempts",
                    "refused": refused,
                    "login_url": request.get_full_path(),
                }
                response = TemplateResponse(request, "hcm/login_throttled.html", context, status=429)
                response["Retry-After"] = str(refused.retry_after)
                add_never_cache_headers(response)
                return response
        return view(request, *args, **kwargs)

    return limited


@receiver(user_login_failed)
def log_failed_login(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    """One line per failed login, from any door: the username and client address, never
    the password (only the username is read from `credentials`)."""
    username = str(credentials.get(get_user_model().USERNAME_FIELD, ""))[:_USERNAME_LOG_LENGTH]
    client = client_address(request) if request is not None else ""
    logger.warning("login failed", extra={"username": username, "client": client})


def _username_key(username: str) -> str:
    """One budget for "Alice" and "alice" (case games gain an attacker nothing); hashed, so
    any text (NUL, a lone surrogate) makes a valid cache key."""
    folded = unicodedata.normalize("NFKC", username).casefold()
    return hashlib.sha256(folded.encode("utf-8", "surrogatepass")).hexdigest()


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
