"""Log lines are key=value and never carry credentials, whichever logger wrote them."""

import io
import json
import logging

import pytest

from hcm.logging import BufferedStreamHandler, KeyValueFormatter, RedactSecretsFilter, make_record


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


def test_buffered_handler__log_file_gets_each_batch_the_stream_gets(tmp_path):
    stream = io.StringIO()
    handler = BufferedStreamHandler(stream, log_file=str(tmp_path / "logs" / "hcm.log"))
    handler.setFormatter(KeyValueFormatter())
    logger = logging.getLogger("hcm.test.tee")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for n in range(3):
            logger.warning("line %d", n)  # WARNING: written at once
        logger.setLevel(logging.INFO)
        logger.info("queued")  # INFO: waits for the next batch
        assert stream.getvalue().count("\n") == 3
        handler.flush()
    finally:
        logger.removeHandler(handler)
        handler.close()

    written = stream.getvalue()
    assert [line.split(" ", 3)[3] for line in written.splitlines()] == [
        "line 0",
        "line 1",
        "line 2",
        "queued",
    ]
    assert (tmp_path / "logs" / "hcm.log").read_text() == written
