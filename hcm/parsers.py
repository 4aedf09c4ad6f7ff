"""The API's JSON parser: DRF's, plus the limits of hcm/json_guard.py.

Set as DEFAULT_PARSER_CLASSES, so every view (whatever module it lives in) gets bodies that
every database can store: a body that breaks a limit is a 400 naming each offending field
by its dotted path (`payload.to`, `recipients.0`) before any view code runs, so nothing is
saved.
"""

import json
from collections.abc import Mapping
from typing import Any

from rest_framework import exceptions
from rest_framework.parsers import JSONParser

from hcm import json_guard

# Enough to name every bad field of a real request, without echoing a flood back.
MAX_REPORTED = 20


def _reject_constant(name: str) -> None:
    raise ValueError(f"Out of range float values are not permitted: {name}")


class SafeJSONParser(JSONParser):
    """UTF-8 JSON (RFC 8259) nested at most API_JSON_MAX_DEPTH levels, without NUL, lone
    surrogates or integers beyond 64 bits. (Django caps the size: DRF reads the body through
    request.body, which refuses more than DATA_UPLOAD_MAX_MEMORY_SIZE bytes with a 400.)"""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        raw = stream.read()
        try:
            # Always UTF-8, whatever charset the Content-Type names: a client-chosen codec
            # (even "unicode_escape") would otherwise decode the body.
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise exceptions.ParseError(f"JSON parse error - body is not valid UTF-8 (byte {exc.start}).")
        try:
            json_guard.check_depth(text)
            value = json.loads(text, parse_constant=_reject_constant if self.strict else None)
        except json_guard.JSONLimitError as exc:
            raise exceptions.ValidationError({exc.path or "non_field_errors": [exc.message]})
        except ValueError as exc:  # malformed, NaN, or more digits than int() takes
            raise exceptions.ParseError(f"JSON parse error - {exc}")
        errors: dict[str, list[str]] = {}
        for path, message in json_guard.problems(value) if json_guard.suspect(text) else ():
            errors.setdefault(path or "non_field_errors", []).append(message)
            if len(errors) >= MAX_REPORTED:
                break
        if errors:
            raise exceptions.ValidationError(errors)
        return value
