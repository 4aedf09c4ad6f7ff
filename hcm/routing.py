"""API paths are written without a trailing slash; the slash form answers too, unredirected."""

from collections.abc import Callable

from django.urls import re_path
from django.urls.resolvers import URLPattern


def api_path(route: str, view: Callable, name: str | None = None) -> URLPattern:
    """`api_path("api/system/background-jobs/<id>", ...)` matches with or without '/'.

    `<name>` segments match one path segment (no slash) and are passed as kwargs.
    """
    regex = route.strip("/")
    for segment in [s for s in regex.split("/") if s.startswith("<") and s.endswith(">")]:
        regex = regex.replace(segment, f"(?P<{segment[1:-1]}>[^/]+)")
    return re_path(rf"^{regex}/?$", view, name=name)
