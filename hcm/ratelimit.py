"""Per-user rate limits on write endpoints (django-ratelimit counters, DRF's 429)."""

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit import ALL
from django_ratelimit.core import get_usage
from rest_framework.exceptions import Throttled
from rest_framework.request import Request


def enforce_rate_limit(request: Request | HttpRequest, name: str) -> None:
    """Count this call against limit `name` (settings.RATE_LIMITS); 429 once it is spent.

    Throttled renders as 429 with a Retry-After header of the seconds left in the window.
    """
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
