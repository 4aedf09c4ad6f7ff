"""Job types for the worker tests only: loaded into worker processes with
JOBS_HANDLER_MODULES=tests.job_types, and into the test process (for enqueueing) by the
tests' `job_types` fixture, which unregisters them afterwards: test modules import this
module only inside that fixture, so other tests never see these types.

Handlers that take a `path` append one line per event to that file with a single
O_APPEND write, so a test can read what really ran, in which process, independently of
what the worker wrote to the database.
"""

import logging
import os
import sys
import time

from rest_framework import serializers

from jobs.context import JobContext
from jobs.errors import PermanentJobError, RetryJobAfter
from jobs.registry import job_handler

NAMES = (
    "test_record", "test_sleep", "test_stubborn", "test_fail", "test_progress_loop", "test_noop", "test_log",
    "test_open_transaction", "test_rename_org", "test_openssl", "test_delete_user",
)  # fmt: skip


def append_line(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def read_lines(path) -> list[list[str]]:
    """The events a handler appended: one list of words per line."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.split() for line in f.read().splitlines()]


def _event(ctx: JobContext, path: str | None, event: str) -> None:
    if path:
        append_line(path, f"{event} {ctx.job.id} {ctx.job.attempt} {os.getpid()}")


class RecordPayload(serializers.Serializer):
    path = serializers.CharField()


@job_handler("test_record", scope=("organization", "service"), payload=RecordPayload, timeout=30)
def record(ctx: JobContext) -> dict:
    """Appends `ran <job id> <attempt> <pid>` to the file: the test's log of executions."""
    _event(ctx, ctx.payload["path"], "ran")
    return {"pid": os.getpid()}


class SleepPayload(serializers.Serializer):
    seconds = serializers.FloatField(min_value=0)
    path = serializers.CharField(required=False)
    checks = serializers.BooleanField(default=True, help_text="Call ctx.check() every 50 ms.")


@job_handler("test_sleep", scope=("organization", "service"), payload=SleepPayload, timeout=60)
def sleep(ctx: JobContext) -> dict:
    """Sleeps, checking for cancel/timeout/shutdown every 50 ms unless checks is false;
    appends `start …` and `end …` events."""
    path = ctx.payload.get("path")
    _event(ctx, path, "start")
    end = time.monotonic() + ctx.payload["seconds"]
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(0.05, left))
        if ctx.payload.get("checks", True):
            ctx.check()
    _event(ctx, path, "end")
    return {"slept": ctx.payload["seconds"]}


class StubbornPayload(serializers.Serializer):
    seconds = serializers.FloatField(min_value=0)
    path = serializers.CharField(required=False)


@job_handler("test_stubborn", scope=("organization", "service"), payload=StubbornPayload, timeout=0.5)
def stubborn(ctx: JobContext) -> dict:
    """Sleeps past its 0.5 s timeout without ever checking."""
    _event(ctx, ctx.payload.get("path"), "start")
    time.sleep(ctx.payload["seconds"])
    _event(ctx, ctx.payload.get("path"), "end")
    return {"slept": ctx.payload["seconds"]}


class FailPayload(serializers.Serializer):
    times = serializers.IntegerField(min_value=0, help_text="Fail the first N attempts.")
    permanent = serializers.BooleanField(default=False)
    retry_after = serializers.FloatField(required=False, min_value=0)


@job_handler("test_fail", scope=("organization", "service"), payload=FailPayload, timeout=30)
def fail(ctx: JobContext) -> dict:
    """Fails its first `times` attempts (RuntimeError, PermanentJobError or RetryJobAfter)."""
    attempt = ctx.job.attempt
    if attempt <= ctx.payload["times"]:
        if ctx.payload.get("permanent"):
            raise PermanentJobError(f"planned permanent failure on attempt {attempt}")
        if ctx.payload.get("retry_after") is not None:
            raise RetryJobAfter(f"come back later (attempt {attempt})", delay_seconds=ctx.payload["retry_after"])
        raise RuntimeError(f"planned failure on attempt {attempt}")
    return {"succeeded_on_attempt": attempt}


class ProgressLoopPayload(serializers.Serializer):
    steps = serializers.IntegerField(min_value=1)
    interval = serializers.FloatField(min_value=0)
    path = serializers.CharField(required=False)


@job_handler("test_progress_loop", scope=("organization", "service"), payload=ProgressLoopPayload, timeout=60)
def progress_loop(ctx: JobContext) -> dict:
    """Reports progress (a fenced database write) every `interval` seconds."""
    steps = ctx.payload["steps"]
    _event(ctx, ctx.payload.get("path"), "start")
    for step in range(steps):
        ctx.set_progress(step * 100 // steps)
        time.sleep(ctx.payload["interval"])
    _event(ctx, ctx.payload.get("path"), "end")
    return {"steps": steps}


@job_handler("test_noop", scope=("organization", "service"), timeout=10)
def test_noop(ctx: JobContext) -> dict:
    """Does nothing: an organization- (or service-) scope type for tests (`noop` is internal)."""
    return {}


class LogPayload(serializers.Serializer):
    message = serializers.CharField()


@job_handler("test_log", scope=("organization", "service"), payload=LogPayload, timeout=30)
def log_message(ctx: JobContext) -> dict:
    """Logs `message` from the handler's thread (INFO, then WARNING): what the worker
    adds to a handler's own lines."""
    logger = logging.getLogger("tests.job_types")
    logger.info("handler says: %s", ctx.payload["message"])
    logger.warning("handler warns", extra={"detail": ctx.payload["message"]})
    return {}


@job_handler("test_open_transaction", scope=("organization", "service"), timeout=10)
def open_transaction(ctx: JobContext) -> dict:
    """Returns with its thread's connection inside a transaction (autocommit off), as a
    buggy handler might: the worker must not hand that connection to the next job."""
    from django.db import connection

    from jobs.models import BackgroundJob

    connection.set_autocommit(False)
    BackgroundJob.objects.exists()
    return {}


class RenameOrgPayload(serializers.Serializer):
    name = serializers.CharField()


@job_handler("test_rename_org", scope=("organization",), payload=RenameOrgPayload, timeout=10)
def rename_org(ctx: JobContext) -> dict:
    """Writes to the database: renames the job's organization."""
    from hcm.models import Organization

    Organization.objects.filter(pk=ctx.job.organization_id).update(name=ctx.payload["name"])
    return {}


def _openssl_loaded() -> bool:
    """Python's OpenSSL bindings are imported (a worker loads them at their first use)."""
    return sys.modules.get("_ssl") is not None or sys.modules.get("_hashlib") is not None


@job_handler("test_openssl", scope=("organization", "service"), timeout=60)
def openssl(ctx: JobContext) -> dict:
    """Hashes and checks a password with Django's default hasher (PBKDF2, OpenSSL's
    pbkdf2_hmac) and makes a TLS client context, as a job may; reports whether OpenSSL was
    loaded before and after."""
    import ssl

    from django.contrib.auth.hashers import check_password, make_password

    before = _openssl_loaded()
    encoded = make_password("correct horse")
    return {
        "openssl_before": before,
        "hasher": encoded.split("$", 1)[0],
        "password_checks": check_password("correct horse", encoded) and not check_password("wrong", encoded),
        "tls_context": type(ssl.create_default_context()).__name__,
        "openssl_after": _openssl_loaded(),
    }


class DeleteUserPayload(serializers.Serializer):
    user_id = serializers.IntegerField()


@job_handler("test_delete_user", scope=("organization", "service"), payload=DeleteUserPayload, timeout=30)
def delete_user(ctx: JobContext) -> dict:
    """Deletes a user: what refers to them goes too, as in the web process (the admin's
    LogEntry rows among them)."""
    from hcm.models import User

    deleted, by_model = User.objects.filter(pk=ctx.payload["user_id"]).delete()
    return by_model
