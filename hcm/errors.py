"""Every error is JSON with `detail`; validation errors also name each bad field."""

import logging
from typing import Any

from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


class UpstreamError(exceptions.APIException):
    """A service we depend on (SMTP, Slack, Twilio) refused or could not be reached."""

    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "An upstream service failed."
    default_code = "upstream_error"


def _field_paths(errors: Any, prefix: str = "") -> list[str]:
    if isinstance(errors, dict):
        paths: list[str] = []
        for key, value in errors.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            paths.extend(_field_paths(value, name) if isinstance(value, dict) else [name])
        return paths
    return [prefix] if prefix else []


def _first_message(errors: Any) -> str:
    while isinstance(errors, dict | list) and errors:
        errors = next(iter(errors.values())) if isinstance(errors, dict) else errors[0]
    return str(errors)


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    response = exception_handler(exc, context)
    if response is None:
        return None  # unhandled: Django's handler500 answers (JSON, no traceback)
    if isinstance(exc, exceptions.ValidationError):
        errors = response.data
        if isinstance(errors, list):
            errors = {"non_field_errors": errors}
        fields = [f for f in _field_paths(errors) if f != "non_field_errors"]
        if fields:
            detail = f"Invalid {', '.join(fields)}: {_first_message(errors)}"
        else:
            detail = _first_message(errors)
        response.data = {"detail": detail, "errors": errors}
    elif isinstance(response.data, dict) and "detail" not in response.data:
        response.data = {"detail": _first_message(response.data), **response.data}
    elif isinstance(response.data, list):
        response.data = {"detail": _first_message(response.data)}
    return response


def json_404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"detail": "Not found."}, status=404)


def json_500(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"detail": "Internal server error."}, status=500)


def json_400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"detail": "Bad request."}, status=400)


def json_403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"detail": "Forbidden."}, status=403)
