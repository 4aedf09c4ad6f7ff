"""Log formatting and redaction shared by every handler in settings.LOGGING."""

import json
import logging
import re
from datetime import UTC, datetime

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
