"""Every error is JSON with `detail`; validation errors also name each bad field.

One exception handler turns the project's domain errors (hcm.exceptions) and DRF's own
into responses, so views never translate errors by hand.
"""

import logging
from typing import Any

from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from hcm.exceptions import (
    Conflict,
    InvalidInput,
    NotPermitted,
    ObjectNotFound,
    StateConflict,
    flatten,
    summarize,
)

logger = logging.getLogger(__name__)


class UpstreamError(exceptions.APIException):
    """A service we depend on (SMTP, Slack, Twilio) refused or could not be reached."""

    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "An upstream service failed."
    default_code = "upstream_error"


class ConflictError(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


def _as_api_exception(exc: Exception) -> Exception:
    """The DRF exception a domain error answers as; anything else unchanged."""
    if isinstance(exc, InvalidInput):
        return exceptions.ValidationError(exc.errors)
    if isinstance(exc, StateConflict):
        return exceptions.ValidationError({exc.field: [str(exc)]})
    if isinstance(exc, Conflict):
        return ConflictError(str(exc))
    if isinstance(exc, NotPermitted):
        return exceptions.PermissionDenied(str(exc))
    if isinstance(exc, ObjectNotFound):
        return exceptions.NotFound(str(exc) or "Not found.")
    if isinstance(exc, Http404):
        return exceptions.NotFound()  # "Not found.", naming no model
    return exc


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    exc = _as_api_exception(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None  # unhandled: Django's handler500 answers (JSON, no traceback)
    if isinstance(exc, exceptions.ValidationError):
        errors: Any = response.data
        if isinstance(errors, list):
            errors = {"non_field_errors": errors}
        response.data = {"detail": summarize(errors), "errors": errors}
    elif isinstance(response.data, dict) and "detail" not in response.data:
        response.data = {"detail": _first_message(response.data), **response.data}
    elif isinstance(response.data, list):
        response.data = {"detail": _first_message(response.data)}
    return response


def _first_message(errors: Any) -> str:
    pairs = flatten(errors)
    return pairs[0][1] if pairs else str(errors)


def json_404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"detail": "Not found."}, status=404)


def json_500(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"detail": "Internal server error."}, status=500)


def json_400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"detail": "Bad request."}, status=400)


def json_403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"detail": "Forbidden."}, status=403)
