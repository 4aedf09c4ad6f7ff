"""LOG_FORMAT=json: one JSON object per line (python-json-logger), redacted as the text
format is. A module of its own so that processes logging text never import it."""

import logging
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _JsonFormatterBase

from hcm.logging import _STANDARD_ATTRS, redact


class JsonFormatter(_JsonFormatterBase):
    """One JSON object per line: ts, level, logger, message, then the structured fields
    (`extra=` and the context), and `exc_info` with the (redacted) traceback."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("reserved_attrs", [*_STANDARD_ATTRS, "request"])
        super().__init__(*args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        # Console and file handlers share this formatter: build each record's line once.
        cached = record.__dict__.get("_formatted_json")
        if cached is not None:
            return cached
        line = redact(super().format(record))
        record._formatted_json = line
        return line

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        log_data["ts"] = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.message
        for key, value in record.__dict__.items():
            if key in self._skip_fields or key.startswith("_"):
                continue
            log_data[key] = value
        request: Any = record.__dict__.get("request")
        if hasattr(request, "path"):  # django.request's lines: the HttpRequest is not JSON
            log_data["method"] = request.method
            log_data["path"] = request.path
        log_data.update(message_dict)
