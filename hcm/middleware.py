"""Middleware of the project package."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from hcm.errors import json_404


class ApiNotFoundJsonMiddleware:
    """An unknown path under /api/ answers the API's JSON 404, also with DEBUG on (where
    Django would answer its HTML debug page instead of handler404)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Only paths no URL pattern matched: a view's own 404 (DRF's, with its detail) stays.
        if response.status_code == 404 and request.path.startswith("/api/") and request.resolver_match is None:
            return json_404(request)
        return response
