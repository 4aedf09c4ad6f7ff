"""Log lines are key=value and never carry credentials, whichever logger wrote them."""

import enum
import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hcm.logging import (
    BufferedStreamHandler,
    ContextFilter,
    KeyValueFormatter,
    RedactSecretsFilter,
    _plain_sinks,
    log_context_reset,
    log_context_set,
    log_entries,
    make_record,
)
from hcm.logging_json import JsonFormatter


def render(message: str, *args, exc: BaseException | None = None, **extra) -> str:
    record = logging.LogRecord("hcm.test", logging.WARNING, __file__, 1, message, args, None)
    if exc is not None:
        try:
            raise exc
        except BaseException:
            import sys

            record.exc_info = sys.exc_info()
    for key, value in extra.items():
        setattr(record, key, value)
    RedactSecretsFilter().filter(record)
    return KeyValueFormatter().format(record)


@pytest.mark.parametrize(
    ("message", "secret"),
    [
        ("posting to https://hooks.slack.com/services/T0/B0/XyZsecret1", "XyZsecret1"),
        ("proxy http://127.0.0.1:8025/services/T0/B0/XyZsecret2 refused", "XyZsecret2"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOjF9.s1gnatur3", "s1gnatur3"),
        ("connect postgres://hcm:pa55w0rd@db.internal:5432/hcm failed", "pa55w0rd"),
    ],
)
def test_redaction__secret_in_the_message_is_replaced(message, secret):
    line = render(message)

    assert secret not in line
    assert "[redacted]" in line


def test_redaction__secret_in_args_extra_and_traceback_is_replaced():
    url = "https://hooks.slack.com/services/T0/B0/argSecret"

    line = render(
        "delivery to %s failed",
        url,
        exc=RuntimeError(f"POST {url} answered 500"),
        webhook="https://hooks.slack.com/services/T0/B0/extraSecret",
    )

    assert "argSecret" not in line and "extraSecret" not in line
    assert "Traceback" in line and "RuntimeError" in line


def test_format__one_line_with_logger_level_and_extra_fields():
    line = render("job finished", job_id="job_1", attempt=2)

    assert "\n" not in line
    assert " WARNING hcm.test job finished " in line
    assert 'job_id="job_1"' in line and "attempt=2" in line


def test_format__extra_fields_in_order_with_the_ones_a_filter_added():
    record = logging.getLogger("hcm.test").makeRecord(
        "hcm.test", logging.INFO, __file__, 1, "job completed", (), None, extra={"job_id": "j1", "attempt": 1}
    )
    record.request_id = "r1"  # as ContextFilter adds it, after the extra fields

    line = KeyValueFormatter().format(record)

    assert line.endswith(' INFO hcm.test job completed job_id="j1" attempt=1 request_id="r1"')


@pytest.mark.parametrize("value", ['say "hi"', "back\\slash", "tab\there", "é", ""])
def test_format__strings_that_need_escaping_are_json_quoted(value):
    assert f"value={json.dumps(value)}" in render("m", value=value)


def test_make_record__the_record_logger_make_record_builds():
    logger = logging.getLogger("hcm.test")
    extra = {"job_id": "j1", "attempt": 2}
    expected = logger.makeRecord(logger.name, logging.INFO, __file__, 7, "job completed", (), None, "f", dict(extra))

    made = make_record(
        logger,
        logging.INFO,
        "job completed",
        dict(extra),
        created=expected.created,
        pathname=__file__,
        lineno=7,
        func="f",
    )

    assert vars(made) == {**vars(expected), "relativeCreated": pytest.approx(expected.relativeCreated)}
    assert KeyValueFormatter().format(made) == KeyValueFormatter().format(expected)


def test_make_record__line_has_the_fields_filters_add_and_no_secret():
    logger = logging.getLogger("hcm.test")
    extra = {"job_id": "j1", "error": "POST https://hooks.slack.com/services/T0/B0/s3cret failed"}
    expected = logger.makeRecord(logger.name, logging.INFO, __file__, 7, "job failed", (), None, "f", dict(extra))
    made = make_record(
        logger, logging.INFO, "job failed", dict(extra), created=expected.created, pathname=__file__, lineno=7, func="f"
    )
    for record in (made, expected):
        RedactSecretsFilter().filter(record)
        record.request_id = "r1"  # as ContextFilter adds it, after the extra fields

    line = KeyValueFormatter().format(made)

    assert line == KeyValueFormatter().format(expected)
    assert line.endswith(' job_id="j1" error="POST https://hooks.slack.com/services/[redacted] failed" request_id="r1"')


@contextmanager
def tee_logger(
    name: str, stream: io.StringIO, log_file: Path
) -> Iterator[tuple[logging.Logger, BufferedStreamHandler]]:
    """A logger of its own (INFO) whose one handler sends each batch to `stream` and `log_file`."""
    handler = BufferedStreamHandler(stream, log_file=str(log_file))
    handler.setFormatter(KeyValueFormatter())
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        yield logger, handler
    finally:
        logger.removeHandler(handler)
        handler.close()


def messages(text: str) -> list[str]:
    return [line.split(" ", 3)[3] for line in text.splitlines()]


def test_buffered_handler__log_file_gets_each_batch_the_stream_gets(tmp_path):
    stream = io.StringIO()
    with tee_logger("hcm.test.tee", stream, tmp_path / "logs" / "hcm.log") as (logger, handler):
        for n in range(3):
            logger.warning("line %d", n)  # WARNING: written at once
        logger.info("queued")  # INFO: waits for the next batch
        assert stream.getvalue().count("\n") == 3
        handler.flush()

    written = stream.getvalue()
    assert messages(written) == ["line 0", "line 1", "line 2", "queued"]
    assert (tmp_path / "logs" / "hcm.log").read_text() == written


def test_buffered_handler__stream_closed_first__file_still_gets_the_lines_and_nothing_is_reported(tmp_path, capsys):
    # At exit a test runner (or a parent) may close the stream before logging's last flush.
    stream = io.StringIO()
    with tee_logger("hcm.test.closed", stream, tmp_path / "hcm.log") as (logger, handler):
        logger.info("last words")  # queued
        stream.close()
        handler.flush()
        logger.warning("and one more")  # written at once: neither raised to the caller nor lost

    assert messages((tmp_path / "hcm.log").read_text()) == ["last words", "and one more"]
    assert "could not write log lines" not in capsys.readouterr().err


def test_buffered_handler__a_log_file_that_cannot_be_written_is_reported_even_with_the_stream_closed(tmp_path, capsys):
    (tmp_path / "not-a-directory").write_text("")
    stream = io.StringIO()
    with tee_logger("hcm.test.unwritable", stream, tmp_path / "not-a-directory" / "hcm.log") as (logger, _):
        stream.close()
        logger.warning("nowhere to go")

    assert "could not write log lines" in capsys.readouterr().err


# --- log_entries: many lines at once, as a record each would print them ---------------------


class Color(enum.IntEnum):
    RED = 1


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str")


class Formatted(float):
    def __format__(self, spec: str) -> str:
        return "F!"


class Quoting:
    def __str__(self) -> str:
        return 'o"bj'


ODD_VALUES = {
    "pct%": "50%",
    "b{": "{x}",
    "flag": True,
    "enum": Color.RED,
    "f": 0.1,
    "n": None,
    "sub": Formatted(2.5),
    "o": Quoting(),
    "u": "é\t",
    "big": 10**30,
    "neg": -0.0,
    "inf": float("inf"),
    "l": [1, "a"],
}


def test_format__each_kind_of_value_as_an_f_string_prints_it_strings_quoted():
    record = make_record(
        logging.getLogger("x"),
        logging.INFO,
        "100% done {x}",
        ODD_VALUES,
        created=1.5e9,
        pathname="p",
        lineno=1,
        func="f",
    )

    assert KeyValueFormatter().format(record) == (
        '2017-07-14T02:40:00.000+00:00 INFO x 100% done {x} pct%="50%" b{="{x}" flag=True enum=1 f=0.1 n="None"'
        ' sub=F! o="o\\"bj" u="\\u00e9\\t" big=1000000000000000000000000000000 neg=-0.0 inf=inf l="[1, \'a\']"'
    )


ENTRIES = [
    (logging.INFO, "job completed", {"job_id": "j1", "job_type": "noop", "attempt": 1, "duration_ms": 0.07}),
    (logging.INFO, "", {}),
    (logging.DEBUG, "below the logger's level", {"job_id": "j0"}),
    (logging.INFO, "odd values", {"quote": 'say "hi"', "uni": "é\n", "none": None, "flag": True, "enum": Color.RED}),
    (logging.INFO, "100% {odd} values", ODD_VALUES),
    (logging.INFO, "nested", {"payload": {"a": [1, 2]}, "big": 10**20, "neg": -1.5e-9, "braces": "{x}"}),
    (logging.INFO, "odd keys", {"a{b}": 1, "_private": "hidden", "worker": "w-own"}),
    (logging.INFO, "a record's own name", {"name": "shadow", "job_id": "j2"}),
    (logging.INFO, "secret", {"error": "POST https://hooks.slack.com/services/T0/B0/s3cret failed"}),
    (logging.INFO, "Bearer abc.def", {}),
    (logging.INFO, "str raises", {"value": Unprintable()}),
    (logging.WARNING, "job will retry", {"job_id": "j3", "retry_at": None}),
    (logging.INFO, "after the warning", {"job_id": "j4"}),
]


@pytest.fixture
def entries_logger() -> Iterator[logging.Logger]:
    """A logger outside logging's tree (pytest attaches its capture handler to every
    logger in it): only the handlers a test adds."""
    logger = logging.Logger("hcm.test.entries", logging.INFO)
    token = log_context_set({"worker": "w-ctx", "request_id": "r1", "_mark": 1, "process": "p"})
    yield logger
    log_context_reset(token)
    for handler in logger.handlers:
        handler.close()


def our_handler(logger: logging.Logger, formatter: logging.Formatter | None = None) -> io.StringIO:
    stream = io.StringIO()
    handler = BufferedStreamHandler(stream)
    handler.setFormatter(formatter or KeyValueFormatter())
    handler.addFilter(RedactSecretsFilter())
    handler.addFilter(ContextFilter())
    logger.addHandler(handler)
    return stream


def log_both_ways(logger: logging.Logger, stream: io.StringIO, entries: list) -> tuple[str, str]:
    """The lines log_entries writes, and those a record per entry through logger.handle writes."""
    where = {"created": 1_790_000_000.123, "pathname": __file__, "lineno": 1, "func": "f"}
    log_entries(logger, entries, **where)  # type: ignore[arg-type]
    logger.handlers[0].flush()
    batched = stream.getvalue()
    stream.seek(0)
    stream.truncate()
    for level, message, fields in entries:
        if logger.isEnabledFor(level):
            logger.handle(make_record(logger, level, message, fields, **where))  # type: ignore[arg-type]
    logger.handlers[0].flush()
    return batched, stream.getvalue()


def test_log_entries__lines_byte_for_byte_as_one_record_each(entries_logger, capsys):
    stream = our_handler(entries_logger)
    assert _plain_sinks(entries_logger) is not None  # the lines are built without records

    batched, one_by_one = log_both_ways(entries_logger, stream, ENTRIES)

    assert batched == one_by_one
    lines = batched.splitlines()
    assert lines[0].endswith(
        ' INFO hcm.test.entries job completed job_id="j1" job_type="noop" attempt=1 duration_ms=0.07'
        ' worker="w-ctx" request_id="r1"'
    )
    assert "s3cret" not in batched and "abc.def" not in batched
    assert not any("below the logger's level" in line for line in lines)
    assert "str raises" not in batched  # both ways: handleError reports it, as logging does
    assert capsys.readouterr().err.count("RuntimeError: no str") == 2


def test_log_entries__warning_written_at_once_info_waits_for_the_batch(entries_logger):
    stream = our_handler(entries_logger)
    where = {"created": 1_790_000_000.0, "pathname": __file__, "lineno": 1, "func": "f"}

    log_entries(entries_logger, [(logging.INFO, "queued", {})], **where)
    assert stream.getvalue() == ""
    log_entries(entries_logger, [(logging.WARNING, "at once", {}), (logging.INFO, "with it", {})], **where)

    assert messages(stream.getvalue()) == [
        'queued worker="w-ctx" request_id="r1"',
        'at once worker="w-ctx" request_id="r1"',
        'with it worker="w-ctx" request_id="r1"',
    ]


def test_log_entries__a_handler_at_warning_gets_only_the_warnings(entries_logger):
    stream = our_handler(entries_logger)
    entries_logger.handlers[0].setLevel(logging.WARNING)

    batched, one_by_one = log_both_ways(entries_logger, stream, ENTRIES)

    assert batched == one_by_one
    assert [m.split(" ")[:3] for m in messages(batched)] == [["job", "will", "retry"]]


class Collecting(logging.Handler):
    """A handler of the user's own LOGGING (Sentry's, a log shipper's...)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_log_entries__another_handler_gets_a_record_per_line_and_ours_prints_the_same(entries_logger):
    stream = our_handler(entries_logger)
    theirs = Collecting()
    entries_logger.addHandler(theirs)
    entries = [(logging.INFO, "job completed", {"job_id": "j1", "attempt": 1})] * 3

    batched, one_by_one = log_both_ways(entries_logger, stream, entries)

    assert batched == one_by_one and batched.count("job completed") == 3
    records = theirs.records[:3]
    assert [(r.levelno, r.getMessage(), r.job_id, r.attempt, r.worker) for r in records] == [  # type: ignore[attr-defined]
        (logging.INFO, "job completed", "j1", 1, "w-ctx")
    ] * 3


def test_log_entries__json_format_prints_what_a_record_would(entries_logger):
    stream = our_handler(entries_logger, JsonFormatter())
    entries = [e for e in ENTRIES if e[1] != "str raises"]

    batched, one_by_one = log_both_ways(entries_logger, stream, entries)

    assert batched == one_by_one
    first = json.loads(batched.splitlines()[0])
    assert (first["message"], first["job_id"], first["worker"]) == ("job completed", "j1", "w-ctx")
