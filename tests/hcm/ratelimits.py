"""Spending a per-user rate limit the way a client would: request after request."""

from collections.abc import Callable

from django.core.cache import cache


def spend_limit(send: Callable, limit: int):
    """Call `send` `limit` times (each must succeed), then once more; return that answer.

    django-ratelimit counts in fixed windows. Should one end during the burst, the count
    restarts and the extra call is still allowed: the counters are then cleared and the
    burst repeated once (a one-minute window cannot end twice within a burst of seconds).
    """
    response = None
    for _ in range(2):
        cache.clear()
        for i in range(limit):
            response = send()
            assert response.status_code < 400, (i, response.status_code, response.content)
        response = send()
        if response.status_code == 429:
            break
    return response
