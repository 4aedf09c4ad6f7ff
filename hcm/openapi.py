"""OpenAPI schema generation: the shared error shape and the responses every operation documents.

Views stay unannotated where drf-spectacular can read them (GenericAPIView with a
serializer_class, or `@extend_schema`); APIViews that pick their serializers by hand are
described in hcm/openapi_views.py, so their modules stay free of schema code.
"""

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from hcm.pagination import SkipLimitSerializer


class ErrorSerializer(serializers.Serializer):
    """Every error response: `detail` always; `errors` (field → messages) on 400."""

    detail = serializers.CharField(help_text="A sentence saying what went wrong.")
    # The response key is "errors"; declared fields leave the class, so Serializer.errors stays.
    errors = serializers.DictField(  # type: ignore[assignment]
        required=False,
        help_text="400 only: each invalid field (dotted for nested ones) with its messages.",
    )


ERROR_DESCRIPTIONS = {
    "400": "Invalid input: `errors` names each bad field.",
    "401": "Missing, expired or invalid access token.",
    "403": "Signed in, but not allowed (role or organization).",
    "404": "No such object in your organization.",
    "429": "Rate limit exceeded; the Retry-After header says when to try again.",
    "502": "An upstream service (mail server, Slack, Twilio) refused or could not be reached.",
}

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _page_parameter(name: str, description: str) -> OpenApiParameter:
    field = SkipLimitSerializer().fields[name]  # hcm.pagination owns the bounds
    assert isinstance(field, serializers.IntegerField)
    schema: dict[str, Any] = {"type": "integer", "minimum": field.min_value, "default": field.default}
    if field.max_value is not None:
        schema["maximum"] = field.max_value
    return OpenApiParameter(name, schema, description=description)


# The skip/limit query parameters of every list endpoint.
PAGE_PARAMETERS = [
    _page_parameter("skip", "Items to skip."),
    _page_parameter("limit", "Items per page."),
]

# Function validators drf-spectacular cannot read → the regex each applies (register_pattern).
VALIDATOR_PATTERNS: dict[Callable, str] = {}


def register_pattern(validator: Callable, regex: re.Pattern) -> None:
    """Document fields checked by `validator` with `regex` (as a JSON Schema "pattern")."""
    # JSON Schema patterns are ECMA-262 regexes, which have no \Z: "$" means the same there.
    VALIDATOR_PATTERNS[validator] = regex.pattern.replace("\\Z", "$")


def error_response(code: str | int, description: str | None = None) -> OpenApiResponse:
    return OpenApiResponse(response=ErrorSerializer, description=description or ERROR_DESCRIPTIONS[str(code)])


@cache
def page_of(item_serializer: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The `{"items", "total", "skip", "limit"}` shape (hcm.pagination.paginate) of a list."""
    name = item_serializer.__name__.removesuffix("Serializer")
    page = type(
        f"{name}PageSerializer",
        (serializers.Serializer,),
        {
            "items": item_serializer(many=True),
            "total": serializers.IntegerField(help_text="Matching items in all pages."),
            "skip": serializers.IntegerField(),
            "limit": serializers.IntegerField(),
            "is_page": True,  # read by AutoSchema.get_operation_id: a GET of a page is a "list"
            "__module__": __name__,
            "__doc__": f"One page of {name} items.",
        },
    )
    return page


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's AutoSchema plus the errors each operation can answer.

    Which errors apply follows from the view, not from a list per endpoint:
    400 on writes (bad input, or an action the object's state refuses) and on reads with
    query parameters, 401/403 unless the view allows anyone, 404 when the path names an
    object, 429 on writes (the per-user rate limits).
    A view that can fail upstream declares 502 itself (``error_response(502)``).
    """

    def get_tags(self) -> list[str]:
        # /api/system/background-jobs/{id}/cancel → "background-jobs"
        parts = [p for p in self.path.split("/") if p and p not in ("api", "system") and "{" not in p]
        return [parts[0]] if parts else super().get_tags()

    def get_operation_id(self) -> str:
        if self.method == "GET" and self._returns_page():
            return "_".join([*(t.replace("-", "_") for t in self._tokenize_path()), "list"])
        return super().get_operation_id()

    def _map_serializer_field(self, field, direction, bypass_extensions=False) -> dict[str, Any]:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.ListField) and not field.allow_empty:
            schema.setdefault("minItems", 1)
        if isinstance(field, serializers.JSONField) and direction == "request":
            # Every JSON input of this API (payload, data, custom_settings) is an object.
            schema = {**schema, "type": "object", "additionalProperties": {}}
        for validator in getattr(field, "validators", []):
            if callable(validator) and getattr(validator, "__hash__", None) and validator in VALIDATOR_PATTERNS:
                schema["pattern"] = VALIDATOR_PATTERNS[validator]
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

    def _returns_page(self) -> bool:
        response = self.get_response_serializers()
        if isinstance(response, dict):
            response = response.get(200, response.get("200"))
        if isinstance(response, OpenApiResponse):
            response = response.response
        return bool(getattr(response, "is_page", False))

    def _standard_error_codes(self, operation: dict[str, Any]) -> list[str]:
        has_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
        anyone = self._allows_anyone()
        codes = []
        if self.method in WRITE_METHODS or has_query:  # a write can also be refused for state
            codes.append("400")
        if not anyone:
            codes += ["401", "403"]
        if "{" in self.path:
            codes.append("404")
        if self.method in WRITE_METHODS and not anyone:
            codes.append("429")
        return codes

    def _allows_anyone(self) -> bool:
        return all(isinstance(p, AllowAny) for p in self.view.get_permissions())


def strip_optional_slash(endpoints: list[tuple]) -> list[tuple]:
    """Preprocessing hook: hcm.routing.api_path routes (`…/?$`) are documented without the slash.

    Both forms answer; the schema names the canonical one, once.
    """
    result = []
    for path, path_regex, method, callback in endpoints:
        if path_regex.endswith("/?$") and path.endswith("/") and path != "/":
            path = path.rstrip("/")
        result.append((path, path_regex, method, callback))
    return result


# Registers the OpenApiViewExtension classes describing hand-written APIViews.
from hcm import openapi_views  # noqa: E402, F401
