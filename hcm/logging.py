"""Log formatting and redaction shared by every handler in settings.LOGGING."""

import collections
import json
import logging
import logging.handlers
import os
import re
import threading
import time
import weakref
from collections.abc import Iterable
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from itertools import islice
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
# The attributes LogRecord.__init__ sets, in its order: a record's dict starts with them, and
# `extra=` fields and filters' additions come after (see KeyValueFormatter.format).
_INIT_ATTRS = list(vars(logging.LogRecord("", logging.INFO, "", 0, "", (), None)))
_N_INIT_ATTRS = len(_INIT_ATTRS)


# Every pattern above needs one of these substrings: lines without any skip the regexes
# (almost every line; the worker logs one per job). Three `in` tests, not a loop (nor a
# regex alternation, which is slower still).
def _may_hold_secret(text: str) -> bool:
    return "://" in text or "Bearer" in text or "/services/" in text


def redact(text: str) -> str:
    if not _may_hold_secret(text):
        return text
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_redacted", False):  # already done by another handler's filter
            return True
        record._redacted = True
        # getMessage() without its str() and %-formatting for a plain message (job lines).
        message = record.msg if not record.args and type(record.msg) is str else record.getMessage()
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
        attrs = record.__dict__
        # The extra fields, looked for after the attributes every record starts with (a
        # line per job: checking each of those twenty by name was a third of the format).
        # make_record's records start with them by construction: no list to compare (and
        # their message needs no formatting unless it has args).
        if type(record) is _TemplateRecord:
            message = record.msg if not record.args else record.getMessage()
            keys: Any = islice(attrs, _N_INIT_ATTRS, None)
        else:
            message = record.getMessage()
            keys = list(attrs)
            if keys[:_N_INIT_ATTRS] == _INIT_ATTRS:
                keys = keys[_N_INIT_ATTRS:]
        printed = tuple(filter(_printed_key, keys))
        line = _line_head(record.created, record.levelname, record.name) + message
        line += _fields_template(printed) % _printed_values([attrs[key] for key in printed])  # type: ignore[operator]  # printed keys have one
        if record.exc_info:
            line += "\n" + (record.exc_text or self.formatException(record.exc_info))
        record._formatted = line = redact(line)
        return line


def _line_head(created: float, levelname: str, name: str) -> str:
    """What a line starts with, before its message: `ts level logger `."""
    return f"{_timestamp(created)} {levelname} {name} "


def _printed_key(key: str) -> bool:
    """Whether a line prints a record's attribute: not the attributes every record has, nor
    `_private` ones (filters' marks); the rest came from `extra=` or a filter."""
    return key not in _STANDARD_ATTRS and key[:1] != "_"


# ` key=%s key=%s…` for each tuple of keys a line prints, in their order: the names and
# the `=` joined once, not per line. Few tuples (a call site's extra fields, plus the
# context's); cleared when full all the same.
_field_templates: dict[tuple[Any, ...], str | None] = {}
_FIELD_TEMPLATES_SIZE = 256
_UNKNOWN = object()


def _fields_template(keys: tuple[Any, ...]) -> str | None:
    """The %-template that prints these keys' values; None if a line would not
    print one of them (see _printed_key; or not a str)."""
    template = _field_templates.get(keys, _UNKNOWN)
    if template is _UNKNOWN:
        if len(_field_templates) >= _FIELD_TEMPLATES_SIZE:
            _field_templates.clear()
        template = None
        if all(type(key) is str and _printed_key(key) for key in keys):
            template = "".join(f" {_escaped(key)}=%s" for key in keys)
        _field_templates[keys] = template
    return template  # type: ignore[return-value]


def _printed_values(values: Iterable[Any]) -> tuple[Any, ...]:
    """What a line prints for each value, for a %-template's `%s`: strings JSON-quoted,
    numbers as an f-string prints them (str() of an int or a float is that), anything
    else its str(), quoted."""
    quoted = _quoted_cache
    texts: list[Any] = []
    for value in values:
        kind = type(value)
        if kind is str:
            text = quoted.get(value)
            if text is None:
                text = _quoted_cached(value)
            texts.append(text)
        elif kind in _NUMBERS:
            texts.append(value)
        elif isinstance(value, int | float):  # bool, IntEnum...: their own __format__
            texts.append(format(value, ""))
        else:
            texts.append(_quoted(str(value)))
    return tuple(texts)


def _escaped(text: str) -> str:
    """Text as a %-template prints it."""
    return text.replace("%", "%%")


_NUMBERS = {int, float}  # printed bare (the isinstance check after it catches their subclasses)


def _quoted(text: str) -> str:
    """json.dumps(text), without its machinery for the common plain string (job ids, types):
    printable ASCII but `"` and `\\` is quoted as is (string methods in C, no regex)."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return json.dumps(text)


# Most string values repeat from line to line (job type, outcome, worker id): quoted once.
# Small and cleared when full, as unique values (job ids) pass through it too.
_quoted_cache: dict[str, str] = {}
_QUOTED_CACHE_SIZE = 256


def _quoted_cached(text: str) -> str:
    if len(_quoted_cache) >= _QUOTED_CACHE_SIZE:
        _quoted_cache.clear()
    _quoted_cache[text] = quoted = _quoted(text)
    return quoted


_second_cache: tuple[int, str] = (-1, "")


_stamp_cache: tuple[float, str] = (-1.0, "")


def _timestamp(created: float) -> str:
    """`2026-11-26T15:20:44.123+00:00`; the part up to the second is built once a second,
    and the whole once per clock reading (the worker's lines for a batch share one)."""
    global _second_cache, _stamp_cache
    stamp = _stamp_cache
    if stamp[0] == created:
        return stamp[1]
    second = int(created)
    if _second_cache[0] != second:
        _second_cache = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    text = f"{_second_cache[1]}.{_MILLIS[int((created - second) * 1000)]}+00:00"
    _stamp_cache = (created, text)
    return text


_MILLIS = [f"{ms:03d}" for ms in range(1000)]


# --- Records for hot paths -------------------------------------------------------------
# Logger.makeRecord builds each record from scratch: the clock, the source file's basename
# and module name, the thread, the process and multiprocessing's idea of it (5 µs here
# under load, a third of a line). A call site that logs one line per job builds its records from
# a template made once, the same attributes with the clock and the thread filled in.
class _TemplateRecord(logging.LogRecord):
    """A record from make_record: its dict starts with the attributes LogRecord.__init__
    sets, in their order, so KeyValueFormatter looks for extra fields after them unchecked."""


_templates: dict[tuple[str, int, str, int, str], tuple[dict[str, Any], float]] = {}


def make_record(
    logger: logging.Logger,
    level: int,
    message: str,
    extra: dict[str, Any],
    *,
    created: float,
    pathname: str,
    lineno: int,
    func: str,
) -> logging.LogRecord:
    """What logger.makeRecord(...) returns for a message without args or exc_info, created
    at `created` (time.time(); one reading serves a batch of lines). Hand it to
    logger.handle(); check logger.isEnabledFor(level) first."""
    key = (logger.name, level, pathname, lineno, func)
    template = _templates.get(key)
    if template is None:
        made = logging.LogRecord(logger.name, level, pathname, lineno, "", (), None, func)
        template = _templates[key] = (dict(vars(made)), made.created - made.relativeCreated / 1000)
    attrs, start = template
    record = _TemplateRecord.__new__(_TemplateRecord)
    # A copy of the template's dict (one C call for the twenty attributes), made the record's.
    record.__dict__ = fields = attrs.copy()
    fields["msg"] = message
    fields["created"] = created
    fields["msecs"] = int((created - int(created)) * 1000) + 0.0
    fields["relativeCreated"] = (created - start) * 1000
    fields["thread"] = threading.get_ident()
    fields["threadName"] = threading.current_thread().name
    fields["process"] = os.getpid()
    fields.update(extra)
    return record


# --- Buffered handlers ------------------------------------------------------------------
# The stdlib handlers flush after every line, and the file handler also stats its path
# before every line (to notice a rotation): at thousands of jobs a second that is most of
# the cost of logging. These keep lines in memory and write them together: a flusher thread
# every FLUSH_INTERVAL seconds, at once for WARNING and above (and for a long backlog), and
# at exit (logging.shutdown flushes every handler). A crash loses at most the last
# FLUSH_INTERVAL seconds of INFO lines.
FLUSH_INTERVAL = 0.2
_MAX_PENDING = 1000
_handlers: "weakref.WeakSet[logging.Handler]" = weakref.WeakSet()
_flusher: threading.Thread | None = None


def _flush_forever() -> None:
    while True:
        time.sleep(FLUSH_INTERVAL)
        for handler in list(_handlers):
            try:
                handler.flush()
            except Exception:  # a broken sink must not end the flusher (handleError reports per line)
                pass


def _start_flusher() -> None:
    global _flusher
    if _flusher is None or not _flusher.is_alive():
        _flusher = threading.Thread(target=_flush_forever, name="log-flusher", daemon=True)
        _flusher.start()


def _after_fork() -> None:
    global _flusher
    _flusher = None  # threads do not survive a fork
    if _handlers:
        _start_flusher()


os.register_at_fork(after_in_child=_after_fork)


class _BufferedMixin:
    terminator: str

    def _init_buffer(self) -> None:
        # A deque: append and popleft are atomic, so a line is queued without the lock
        # (which only the writes take) and a flush never loses a line appended meanwhile.
        self._pending: collections.deque[str] = collections.deque()
        _handlers.add(self)  # type: ignore[arg-type]
        _start_flusher()

    def handle(self, record: logging.LogRecord) -> Any:
        """Handler.handle without taking the handler's lock for each line (see _init_buffer),
        and with Filterer.filter's loop inline (a call less per line)."""
        rv: Any = True
        for f in self.filters:  # type: ignore[attr-defined]
            result = f.filter(record) if hasattr(f, "filter") else f(record)
            if not result:
                return False
            if isinstance(result, logging.LogRecord):  # Python 3.12+: a filter may return a new record
                record = rv = result
        self.emit(record)
        return rv

    def emit(self, record: logging.LogRecord) -> None:
        try:
            # Handler.format(record), without its call
            formatter = self.formatter or logging._defaultFormatter  # type: ignore[attr-defined]
            self._pending.append(formatter.format(record) + self.terminator)
        except Exception:
            self.handleError(record)  # type: ignore[attr-defined]
            return
        if record.levelno >= logging.WARNING or len(self._pending) >= _MAX_PENDING:
            self.flush()

    def queue_lines(self, lines: list[str], *, urgent: bool) -> None:
        """Queue lines formatted elsewhere (log_entries), each ending with the terminator;
        written at once if `urgent` (a WARNING among them), as emit() does for one."""
        self._pending.extend(lines)
        if urgent or len(self._pending) >= _MAX_PENDING:
            self.flush()

    def flush(self) -> None:
        with self.lock:  # type: ignore[attr-defined]
            pending = self._pending
            if pending:
                lines = "".join([pending.popleft() for _ in range(len(pending))])
                try:
                    self._write(lines)
                except Exception:
                    logging.Handler.handleError(self, logging.makeLogRecord({"msg": "could not write log lines"}))  # type: ignore[arg-type]
            if not _closed(self.stream):  # type: ignore[attr-defined]
                super().flush()  # type: ignore[misc]

    def _write(self, lines: str) -> None:
        raise NotImplementedError


def _closed(stream: Any) -> bool:
    """A stream closed before its handler (at exit: a test runner's capture, or a parent's
    pipe) takes nothing more: skipped without a report, as logging.shutdown() lets its own
    handlers drop theirs, while the log file still gets every line."""
    return bool(getattr(stream, "closed", False))


class BufferedStreamHandler(_BufferedMixin, logging.StreamHandler):
    """A StreamHandler (stderr by default) that writes lines in batches. With `log_file`,
    each batch also goes to that file (rotated as DirCreatingWatchedFileHandler's): one
    handler for both sinks, so a line is filtered, formatted and queued once, not twice."""

    def __init__(self, stream: Any = None, log_file: str | None = None) -> None:
        # Made first: logging.shutdown() flushes handlers newest first, so this handler's
        # last batch reaches the file before the file is closed.
        self._file = DirCreatingWatchedFileHandler(log_file, delay=True) if log_file else None
        super().__init__(stream)
        self._init_buffer()

    def _write(self, lines: str) -> None:
        try:
            if not _closed(self.stream):
                self.stream.write(lines)
        finally:
            # The file keeps the lines even when the stream could not take them.
            if self._file is not None:
                self._file.write_batch(lines)


class BufferedWatchedFileHandler(_BufferedMixin, logging.handlers.WatchedFileHandler):
    """A WatchedFileHandler that writes lines in batches and checks for a rotation once
    per batch (jobs/logfiles.py waits longer than FLUSH_INTERVAL for a renamed log to go
    quiet, so no line is lost)."""

    def __init__(self, filename: str, mode: str = "a", encoding: str | None = None, delay: bool = False) -> None:
        super().__init__(filename, mode=mode, encoding=encoding, delay=delay)
        self._init_buffer()

    def write_batch(self, lines: str) -> None:
        """Write lines queued by another handler (BufferedStreamHandler's log_file) now."""
        with self.lock:  # type: ignore[union-attr]
            self._write(lines)
            self.flush()  # this handler's own queue is empty: flushes the file's stream

    def _write(self, lines: str) -> None:
        if self.stream is None:  # delay=True: opened at the first batch
            self.stream = self._open()
            self._statstream()
        else:
            self.reopenIfNeeded()
        self.stream.write(lines)


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
    """For the development servers' access logs (`django.server`, and daphne's
    `django.channels.server`): django.request already logged every response of 400 and
    above, with the request id; one line per 4xx, not two."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = record.__dict__.get("status_code")
        if status is None and isinstance(record.args, dict):
            status = record.args.get("status")  # daphne passes its details as the args
        return not (isinstance(status, int) and status >= 400)


class DirCreatingWatchedFileHandler(BufferedWatchedFileHandler):
    """WatchedFileHandler that creates LOG_DIR when it first writes (settings create no
    directories when imported: a read-only filesystem with stdout logging must work)."""

    def _open(self):  # type: ignore[no-untyped-def]
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


# --- Many lines at once -----------------------------------------------------------------
# The worker logs a line per finished job, a batch of them per commit (record_attempts).
# Through a record, the handler chain and the filters a line cost the worker's main thread
# ~10 µs; built straight from its fields and queued with its batch, a few. Only where that
# cannot change a byte of any line: every handler the lines reach is one of ours, printing
# key=value with no filters but ours, and the line holds nothing redact() would look at.
# Anything else (a handler of the user's LOGGING, pytest's caplog, LOG_FORMAT=json, a
# request's user to add) gets a record per line, as logger.handle() would.
LogEntry = tuple[int, str, dict[str, Any]]  # (level, message, the line's fields)

_BATCH_HANDLERS = {BufferedStreamHandler, BufferedWatchedFileHandler, DirCreatingWatchedFileHandler}
_BATCH_FILTERS = {RedactSecretsFilter, ContextFilter}


def log_entries(
    logger: logging.Logger,
    entries: Iterable[LogEntry],
    *,
    created: float,
    pathname: str,
    lineno: int,
    func: str,
) -> None:
    """Log each entry, in order, as logger.handle(make_record(logger, level, message,
    fields, ...)) would: what each handler receives or prints is the same. Entries at a
    level the logger does not print are skipped."""
    sinks = _plain_sinks(logger)
    lines = _Lines.for_sinks(sinks, logger.name, created)
    queued: list[tuple[int, str]] = []
    try:
        for level, message, fields in entries:
            if not logger.isEnabledFor(level):
                continue
            line = lines.line(level, message, fields) if lines is not None else None
            if line is not None:
                queued.append((level, line))
                continue
            if queued:  # the lines before this one first, to keep the order
                _queue(sinks.handlers, queued)  # type: ignore[union-attr]
                queued = []
            record = make_record(
                logger, level, message, fields, created=created, pathname=pathname, lineno=lineno, func=func
            )
            # logger.handle(record), without its call to an empty filter list
            if logger.filters or logger.disabled:
                logger.handle(record)
            else:
                logger.callHandlers(record)
    finally:  # also when `entries` raised: the lines made until then are logged, as one by one
        if queued:
            _queue(sinks.handlers, queued)  # type: ignore[union-attr]


class _Sinks:
    """The handlers a logger's lines reach, when log_entries may format for them."""

    def __init__(self, handlers: list[_BufferedMixin], context: bool, terminator: str) -> None:
        self.handlers = handlers
        self.context = context  # they add the context fields (ContextFilter)
        self.terminator = terminator


def _plain_sinks(logger: logging.Logger) -> _Sinks | None:
    """The handlers logger.callHandlers() would reach, if each is one of ours that prints
    the same line for a record (KeyValueFormatter; our filters, all with ContextFilter or
    none; one terminator); None otherwise."""
    if logger.filters or logger.disabled:
        return None
    handlers: list[_BufferedMixin] = []
    kinds: set[tuple[bool, str]] = set()
    node: logging.Logger | None = logger
    while node is not None:
        for handler in node.handlers:
            filters = {type(f) for f in handler.filters}
            if (
                type(handler) not in _BATCH_HANDLERS
                or type(handler.formatter) is not KeyValueFormatter
                or not filters <= _BATCH_FILTERS
            ):
                return None
            kinds.add((ContextFilter in filters, handler.terminator))  # type: ignore[attr-defined]
            handlers.append(handler)  # type: ignore[arg-type]
        node = node.parent if node.propagate else None
    if not handlers or len(kinds) != 1:  # no handler: logging's last resort decides
        return None
    context, terminator = kinds.pop()
    return _Sinks(handlers, context, terminator)


def _printed_context() -> list[tuple[str, Any]] | None:
    """The context fields ContextFilter adds to this thread's lines, those a line prints;
    None when it would also look up the request's user (left to the filter)."""
    fields = _log_context.get()
    if not fields:
        return []
    if _request.get() is not None or not all(type(key) is str for key in fields):
        return None
    return [(key, value) for key, value in fields.items() if _printed_key(key)]


class _Lines:
    """The lines of one log_entries call for _plain_sinks' handlers: for each level,
    message and tuple of keys, a %-template of the whole line (the timestamp,
    the message and the context fields already in it), so that a line is its values
    formatted into it."""

    def __init__(self, name: str, created: float, context: list[tuple[str, Any]], terminator: str) -> None:
        self._name = name
        self._created = created
        self._context = context
        self._terminator = terminator
        self._templates: dict[tuple[int, str, tuple[Any, ...]], str] = {}

    @classmethod
    def for_sinks(cls, sinks: "_Sinks | None", name: str, created: float) -> "_Lines | None":
        if sinks is None:
            return None
        context = _printed_context() if sinks.context else []
        return None if context is None else cls(name, created, context, sinks.terminator)

    def line(self, level: int, message: str, fields: dict[str, Any]) -> str | None:
        """The line KeyValueFormatter prints for this entry's record once the filters have
        run, with the terminator; None if it could differ (a field named as a record's own
        attribute, a message that is not a str) or might hold a secret (left to the filters)."""
        if type(message) is not str:
            return None
        key = (level, message, tuple(fields))
        template = self._templates.get(key)
        if template is None:
            template = self._templates[key] = self._template(level, message, key[2])
        if not template:
            return None
        try:
            line = template % _printed_values(fields.values())
        except Exception:  # a str() that raises: the record's way reports it (handleError)
            return None
        return None if _may_hold_secret(line) else line

    def _template(self, level: int, message: str, keys: tuple[Any, ...]) -> str:
        """The line's template; "" where the entry needs a record (see line())."""
        fields = _fields_template(keys)
        if fields is None:
            return ""
        # ContextFilter's fields come after the entry's own, and never replace them.
        missing = [(key, value) for key, value in self._context if key not in keys]
        try:
            context = _fields_template(tuple(key for key, _ in missing)) % _printed_values(  # type: ignore[operator]
                value for _, value in missing
            )
        except Exception:
            return ""
        head = _line_head(self._created, logging.getLevelName(level), self._name) + message
        return _escaped(head) + fields + _escaped(context + self._terminator)


def _queue(handlers: list[_BufferedMixin], queued: list[tuple[int, str]]) -> None:
    """Hand each handler the lines at or above its level (written at once if one of those
    is a WARNING or above, as emit() does)."""
    for handler in handlers:
        floor = handler.level  # type: ignore[attr-defined]
        lines = [line for level, line in queued if level >= floor]
        if lines:
            urgent_from = max(floor, logging.WARNING)
            handler.queue_lines(lines, urgent=any(level >= urgent_from for level, _ in queued))
