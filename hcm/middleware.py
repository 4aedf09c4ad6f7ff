"""Middleware of the project package.

HostileInputMiddleware: reject URLs and form posts that no view can use safely, before
any view runs.

A URL path or query string holding NUL (PostgreSQL cannot take it in a query: a 500),
percent-escapes that are not UTF-8 (Django would pass them on re-escaped, or replace them
with U+FFFD), or lone surrogates is a 400 naming the query parameter (or `path`), for the
API, the admin and every other page alike. So is a form post (the admin's) with NUL in a
field: Django's CharField refuses it, but other fields (an admin action's selected ids)
would reach the database with it. JSON bodies are hcm.parsers' part.
"""

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse, JsonResponse

from hcm.errors import json_404
from hcm.json_guard import printable

NUL = "must not contain NUL (%00) characters."
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
NOT_UTF8 = "must be UTF-8: percent-escapes here do not decode as UTF-8 text."


def _wsgi_bytes(value: str) -> bytes:
    # WSGI hands URL parts over as latin-1 decoded bytes (PEP 3333); ASGI servers as text.
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")


def _raw_path(request: HttpRequest) -> bytes:
    """The request path, percent-decoded but not yet decoded as text."""
    scope = getattr(request, "scope", None)
    if scope is not None and scope.get("raw_path") is not None:  # ASGI
        return unquote_to_bytes(scope["raw_path"])
    # WSGI: Django has already decoded PATH_INFO, putting bytes that are not UTF-8 back as
    # %XX escapes; unquoting again finds them (and also rejects a literal "%FF" sent as
    # "%25FF", which no path of this service contains).
    return unquote_to_bytes(request.path_info.encode("utf-8", "surrogatepass"))


def _decoded(raw: bytes) -> tuple[str | None, str | None]:
    """(text, problem) for one percent-decoded URL part."""
    try:
        text = raw.decode("utf-8")  # strict: also rejects encoded surrogates (ED A0 80)
    except UnicodeDecodeError:
        return None, NOT_UTF8
    if "\x00" in text:
        return text, NUL
    return text, None


def url_problems(request: HttpRequest) -> dict[str, list[str]]:
    """{"path" or a query parameter's name: [message]} for what is wrong with the URL."""
    errors: dict[str, list[str]] = {}
    _, problem = _decoded(_raw_path(request))
    if problem:
        errors["path"] = [f"The URL path {problem}"]
    query = _wsgi_bytes(request.META.get("QUERY_STRING", ""))
    for pair in query.split(b"&"):
        if not pair:
            continue
        raw_name, _, raw_value = pair.partition(b"=")
        name, name_problem = _decoded(unquote_to_bytes(raw_name.replace(b"+", b" ")))
        _, value_problem = _decoded(unquote_to_bytes(raw_value.replace(b"+", b" ")))
        if name_problem or name is None:
            errors.setdefault("query", []).append(f"A query parameter name {name_problem}")
        elif value_problem:
            errors.setdefault(printable(name), []).append(f"Query parameter {value_problem}")
    return errors


def form_problems(request: HttpRequest) -> dict[str, list[str]]:
    """{field name: [message]} for form fields (names or values) holding NUL."""
    if request.method != "POST" or request.content_type not in FORM_TYPES:
        return {}
    errors: dict[str, list[str]] = {}
    for name, values in request.POST.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            errors[printable(name)] = [f"Form field {NUL}"]
    return errors


class HostileInputMiddleware:
    """Answers 400 `{"detail", "errors"}` for a URL with NUL or non-UTF-8 escapes, or a
    form post with NUL.

    Sync and async (under ASGI it adds no thread hop in front of async views)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        return self.reject(request) or self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        return self.reject(request) or await self.get_response(request)

    @staticmethod
    def reject(request: HttpRequest) -> JsonResponse | None:
        errors = url_problems(request) or form_problems(request)
        if not errors:
            return None
        first = next(iter(errors.values()))[0]
        return JsonResponse({"detail": f"Invalid {', '.join(errors)}: {first}", "errors": errors}, status=400)


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
