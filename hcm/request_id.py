"""X-Request-ID: one id per request, on its response, its log lines and the jobs it queues.

Taken from the request when a proxy (or client) sent a sane one, else generated. The id
stays in the log context until the response is finished, so django.request's line for a
4xx (written after the middleware chain returns) carries it too.
"""

import re
import uuid
from collections.abc import Callable

from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse

from hcm.logging import log_context_set, request_set

HEADER = "X-Request-ID"
# Letters, digits and - _ . : only, at most 128: anything else (a header injection, a
# megabyte of text) is replaced by a generated id rather than copied into every log line.
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_from(request: HttpRequest) -> str:
    given = request.META.get("HTTP_X_REQUEST_ID", "")
    return given if _SANE.fullmatch(given) else uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request)
        request.request_id = request_id  # type: ignore[attr-defined]
        log_context_set({"request_id": request_id})
        request_set(request)
        response = self.get_response(request)
        response[HEADER] = request_id
        return response


def _clear_context(**kwargs: object) -> None:
    log_context_set(None)
    request_set(None)


request_finished.connect(_clear_context, dispatch_uid="hcm.request_id.clear")
