"""Log lines are key=value and never carry credentials, whichever logger wrote them."""

import logging

import pytest

from hcm.logging import KeyValueFormatter, RedactSecretsFilter


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
