"""OpenAPI schema generation: the shared error shape and the responses every operation documents.

Each view documents itself (`serializer_class`, `@extend_schema` beside the code). This
module only adds what is the same everywhere: the error responses an operation can answer,
and JSON Schema patterns for validators that declare one (`validator.openapi_pattern`, set by
hcm.openapi_patterns).
It imports none of the apps it hosts.
"""

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny


class ErrorSerializer(serializers.Serializer):
    """Every error response: `detail` always; `errors` (field → messages) on 400."""

    detail = serializers.CharField(help_text="A sentence saying what went wrong (on 400: every bad field).")
    # The response key is "errors"; declared fields leave the class, so Serializer.errors stays.
    errors = serializers.DictField(  # type: ignore[assignment]
        required=False,
        help_text="400 only: each invalid field (dotted for nested ones) with its messages.",
    )


ERROR_DESCRIPTIONS = {
    "400": (
        "Invalid input: `errors` names each bad field "
        "(`path` or the parameter, for a URL with NUL or non-UTF-8 escapes)."
    ),
    "401": "Missing, expired or invalid access token.",
    "403": "Signed in, but not allowed (role, organization, or a service-wide scope that needs a platform operator).",
    "404": "No such object in your organization.",
    "405": "Method not allowed here (an id equal to a fixed path beside it, such as read-all, names that path).",
    "429": "Rate limit exceeded; the Retry-After header says when to try again.",
    "502": "An upstream service (mail server, Slack, Twilio) refused or could not be reached.",
}

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def error_response(code: str | int, description: str | None = None) -> OpenApiResponse:
    return OpenApiResponse(response=ErrorSerializer, description=description or ERROR_DESCRIPTIONS[str(code)])


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's AutoSchema plus the errors each operation can answer.

    Which errors apply follows from the view, not from a list per endpoint:
    400 everywhere (bad input, an action the object's state refuses, or a URL that
    hcm.middleware refuses: NUL or non-UTF-8 escapes in its path or query), 401/403
    unless the view allows anyone, 404 when the path names an object, 429 on writes
    (the per-user rate limits).
    A view that can fail upstream declares 502 itself (``error_response(502)``).
    """

    def get_tags(self) -> list[str]:
        # /api/system/background-jobs/{id}/cancel → "background-jobs"
        parts = [p for p in self.path.split("/") if p and p not in ("api", "system") and "{" not in p]
        return [parts[0]] if parts else super().get_tags()

    def get_paginated_name(self, serializer_name: str) -> str:
        return f"{serializer_name}Page"  # hcm.pagination's {"items", "total", "skip", "limit"}

    def _map_serializer_field(self, field, direction, bypass_extensions=False) -> dict[str, Any]:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.ListField) and not field.allow_empty:
            schema.setdefault("minItems", 1)
        if isinstance(field, serializers.JSONField) and direction == "request":
            # Every JSON input of this API (payload, data, custom_settings) is an object.
            schema = {**schema, "type": "object", "additionalProperties": {}}
        for validator in getattr(field, "validators", []):
            pattern = getattr(validator, "openapi_pattern", None)
            if pattern:
                schema["pattern"] = pattern
        return schema

    def get_operation(self, path, path_regex, path_prefix, method, registry) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        for code in self._standard_error_codes(operation):
            if code not in responses:  # what a view declares itself wins
                responses[code] = self._get_response_for_code(error_response(code), code)
        return operation

    def _standard_error_codes(self, operation: dict[str, Any]) -> list[str]:
        anyone = self._allows_anyone()
        codes = ["400"]
        if not anyone:
            codes += ["401", "403"]
        if "{" in self.path:
            codes.append("404")
            # An id equal to a fixed path beside it (/api/notifications/read-all) reaches that
            # route instead, which may not allow this method.
            codes.append("405")
        if self.method in WRITE_METHODS and not anyone:
            codes.append("429")
        return codes

    def _allows_anyone(self) -> bool:
        return all(isinstance(p, AllowAny) for p in self.view.get_permissions())


def strip_optional_slash(endpoints: list[tuple]) -> list[tuple]:
    """Preprocessing hook: routes that answer with and without a trailing slash (`…/?$`,
    hcm.routers) are documented once, without it."""
    result = []
    for path, path_regex, method, callback in endpoints:
        if path_regex.endswith("/?$") and path.endswith("/") and path != "/":
            path = path.rstrip("/")
        result.append((path, path_regex, method, callback))
    return result
