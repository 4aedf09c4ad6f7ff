"""Per-user rate limits as a DRF throttle, counted with django-ratelimit's atomic counters.

A view names the limit of each action in `rate_limits` ({"create": "background_job_create"});
any other write (POST, PUT, PATCH, DELETE) spends the general `api_write` allowance. The
rates are settings.RATE_LIMITS (RATE_LIMIT_* variables). The counters live in the
`ratelimit` cache (settings.RATELIMIT_USE_CACHE), which no job flushes, and are atomic
across web processes (Redis INCR, or hcm.cache.AtomicDatabaseCache).
"""

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit import ALL
from django_ratelimit.core import get_usage
from rest_framework.exceptions import Throttled
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

GENERAL_WRITE_LIMIT = "api_write"


def rate_limit_name(request: Request, view: Any) -> str | None:
    """Which limit this request spends, if any."""
    named = getattr(view, "rate_limits", {}).get(getattr(view, "action", None))
    if named:
        return named
    return None if request.method in SAFE_METHODS else GENERAL_WRITE_LIMIT


def spend(request: Request | HttpRequest, name: str) -> None:
    """Count one call against limit `name` for this user; 429 with Retry-After once spent."""
    rate = settings.RATE_LIMITS[name]
    usage = get_usage(
        request._request if isinstance(request, Request) else request,
        group=f"hcm.{name}",
        key=lambda group, req: str(request.user.pk),
        rate=rate,
        method=ALL,
        increment=True,
    )
    if usage and usage["should_limit"]:
        raise Throttled(
            wait=max(1, usage["time_left"]),
            detail=f"Rate limit exceeded ({rate} per user). Try again in {usage['time_left']} s.",
        )


class UserRateLimitThrottle(BaseThrottle):
    """Raises Throttled itself so the 429 says which limit was hit and for how long."""

    def allow_request(self, request: Request, view: Any) -> bool:
        name = rate_limit_name(request, view)
        if name and request.user and request.user.is_authenticated:
            spend(request, name)
        return True
