"""Log formatting and redaction shared by every handler in settings.LOGGING."""

import json
import logging
import re
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from logging.handlers import WatchedFileHandler
from pathlib import Path
from typing import Any

from django.utils.functional import SimpleLazyObject, empty

# Credentials that can end up in messages: Slack webhook paths, Bearer tokens, basic-auth
# passwords in URLs. Each is replaced, whatever logger emitted it.
_SECRET_PATTERNS = [
    (re.compile(r"(hooks\.slack\.com/services/)[^\s\"'<>]+"), r"\1[redacted]"),
    (re.compile(r"(https?://[^\s/\"']+)/services/[A-Za-z0-9/_-]+"), r"\1/services/[redacted]"),
    (re.compile(r"(Bearer\s+)[A-Za-z0-9._-]+"), r"\1[redacted]"),
    (re.compile(r"(://[^:/\s\"']+:)[^@/\s\"']+@"), r"\1[redacted]@"),
]

# Attributes every LogRecord has; anything else came from `extra=` and is structured data.
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


# Every pattern above needs one of these substrings: lines without any skip the regexes
# (almost every line; the worker logs two per job).
_SECRET_MARKERS = ("/services/", "Bearer", "://")


def redact(text: str) -> str:
    if not any(marker in text for marker in _SECRET_MARKERS):
        return text
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_redacted", False):  # already done by another handler's filter
            return True
        record._redacted = True
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


class KeyValueFormatter(logging.Formatter):
    """`ts level logger message key=value ...`: greppable, one line per event."""

    def format(self, record: logging.LogRecord) -> str:
        # Console and file handlers share this formatter: build each record's line once.
        cached = record.__dict__.get("_formatted")
        if cached is not None:
            return cached
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        parts = [ts, record.levelname, record.name, record.getMessage()]
        for key, value in record.__dict__.items():
            if key in _STANDARD_ATTRS or key.startswith("_"):
                continue
            rendered = value if isinstance(value, int | float) else json.dumps(str(value))
            parts.append(f"{key}={rendered}")
        line = " ".join(str(p) for p in parts)
        if record.exc_info:
            line += "\n" + (record.exc_text or self.formatException(record.exc_info))
        record._formatted = line = redact(line)
        return line


# --- Context on every line -------------------------------------------------------------
# Who a line is about: set by the request-id middleware for a web request, by the worker
# around each job (job id / type / attempt / worker, and the request id that queued it).
# A ContextVar is per thread (and per asyncio task), so handler threads and concurrent
# requests never see each other's fields.
_log_context: ContextVar[dict[str, Any] | None] = ContextVar("hcm_log_context", default=None)
_request: ContextVar[Any] = ContextVar("hcm_log_request", default=None)


def log_context_set(fields: dict[str, Any] | None) -> Token:
    """Put `fields` on every line this thread (or task) logs until reset with the token."""
    return _log_context.set(fields)


def log_context_reset(token: Token) -> None:
    _log_context.reset(token)


def log_context() -> dict[str, Any]:
    return _log_context.get() or {}


def request_set(request: Any) -> None:
    """The web request this thread serves (its user and organization go on each line)."""
    _request.set(request)


def current_request_id() -> str | None:
    """The id of the web request (or job) being served, for a job it enqueues."""
    return (_log_context.get() or {}).get("request_id")


def _request_user(request: Any) -> Any:
    # Read what authentication already decided; never authenticate from a log call (that
    # would query the session store). DRF puts its authenticated user on the HttpRequest.
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        user = None if user._wrapped is empty else user._wrapped
    return user if getattr(user, "is_authenticated", False) else None


class ContextFilter(logging.Filter):
    """Adds the context fields (request id, user, organization; job id, type, attempt,
    worker) to each record that does not carry them already."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _log_context.get()
        if fields:
            attrs = record.__dict__
            for key, value in fields.items():
                if key not in attrs:
                    attrs[key] = value
            request = _request.get()
            if request is not None and "user" not in attrs:
                user = _request_user(request)
                if user is not None:
                    attrs["user"] = user.pk
                    attrs["organization"] = getattr(user, "organization_id", None)
        return True


class SkipErrorResponses(logging.Filter):
    """For `django.server` (runserver's access log): django.request already logged every
    response of 400 and above, with the request id; one line per 4xx, not two."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = record.__dict__.get("status_code")
        return not (isinstance(status, int) and status >= 400)


class DirCreatingWatchedFileHandler(WatchedFileHandler):
    """WatchedFileHandler that creates LOG_DIR when it first writes (settings create no
    directories when imported: a read-only filesystem with stdout logging must work)."""

    def _open(self):  # type: ignore[no-untyped-def]
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()
