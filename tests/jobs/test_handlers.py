"""The five seed job types, enqueued like the API does and run by a real worker process:
each test checks the real effect (cache keys, files on disk, email received, rows deleted).

Several jobs share one `--burst --concurrency 1` run (same priority: they run in the order
they were enqueued), because starting a worker process costs about a second.
"""

import gzip
import logging
import logging.handlers
import os
import re
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from hcm.exceptions import InvalidInput
from jobs import logfiles
from jobs.models import AttemptOutcome, BackgroundJob, JobAttempt, JobStatus, WorkerHeartbeat
from jobs.registry import get_job_type
from jobs.services import job_enqueue
from notifications.services.notification_settings import notification_settings_get
from tests import workers
from tests.factories import make_org
from tests.servers import SMTPServer, self_signed_certificate
from tests.workers import worker_env

DB_CACHE = {"default": {"BACKEND": "hcm.cache.AtomicDatabaseCache", "LOCATION": "hcm_cache", "KEY_PREFIX": "hcm"}}
# A Redis database of its own, since a full flush empties it: one per test database, so the
# SQLite and PostgreSQL suites can run side by side (.ci/run does).
REDIS_URL = f"redis://127.0.0.1:6379/{14 if os.environ.get('DATABASE_URL', '').startswith('postgres') else 13}"
REDIS_CACHE = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "hcm"}
}
ARCHIVE_NAME = re.compile(r"^(?P<log>.+\.log)\.\d{8}T\d{6}Z(\.\d+)?\.gz$")


def scope_org(job_type: str, org):
    """The organization a job of this type may run for: none for service-only types."""
    spec = get_job_type(job_type)
    assert spec is not None
    return org if spec.allows("organization") else None


def enqueue(org, job_type: str, payload: dict | None = None) -> BackgroundJob:
    # One priority for all, so a single-threaded burst runs them in enqueue order.
    job, _ = job_enqueue(organization=org, job_type=job_type, payload=payload, priority="medium")
    return job


def run_burst(tmp_path: Path, **env: str) -> str:
    """Run a worker until nothing is due; returns its output."""
    env.setdefault("REDIS_URL", "")
    env.setdefault("LOG_DIR", str(tmp_path / "log"))
    return workers.run_burst("--concurrency", "1", env=worker_env(**env), log_dir=tmp_path)


def finished(job: BackgroundJob) -> BackgroundJob:
    job.refresh_from_db()
    assert job.status in (JobStatus.COMPLETED, JobStatus.FAILED), (job.status, job.error_message)
    return job


def completed(job: BackgroundJob) -> dict:
    job = finished(job)
    assert job.status == JobStatus.COMPLETED, job.error_message
    assert job.result is not None
    return job.result


def set_age(path: Path, age: timedelta) -> None:
    t = time.time() - age.total_seconds()
    os.utime(path, (t, t))


# --- cache_flush (database cache) and db_optimize ---------------------------------------


@override_settings(CACHES=DB_CACHE)
def test_cache_flush_partial_then_db_optimize__prefix_keys_gone_others_kept_database_vacuumed(
    transactional_db, org, tmp_path
):
    db_cache = caches["default"]
    for key in ("report:1", "report:2", "report:3"):
        db_cache.set(key, key, timeout=None)
    # A large value under the prefix: deleting it leaves free pages that VACUUM gives back.
    db_cache.set("report:blob", os.urandom(3 * 1024 * 1024), timeout=None)
    survivors = {"other:1": 1, "REPORT:upper": 2, "reportx": 3}
    db_cache.set_many(survivors, timeout=None)
    db_cache.set("report:v2", "other version", timeout=None, version=2)

    # Service-wide (no organization): a platform operator's flush of every organization's keys.
    flush = enqueue(None, "cache_flush", {"action": "partial", "prefix": "report:"})
    optimize = enqueue(None, "db_optimize")
    run_burst(tmp_path)

    result = completed(flush)
    assert result["items_cleared"] == 4
    assert result["action"] == "partial" and result["prefix"] == "report:"
    assert result["duration_ms"] >= 0
    assert db_cache.get_many(["report:1", "report:2", "report:3", "report:blob"]) == {}
    assert db_cache.get_many(list(survivors)) == survivors
    assert db_cache.get("report:v2", version=2) == "other version"  # only the current version is flushed

    result = completed(optimize)
    tables = set(connection.introspection.django_table_names(only_existing=True))
    expected_tables = tables | {"hcm_cache", "hcm_ratelimit"}
    assert result["tables_analyzed"] == len(expected_tables)
    assert result["database"] == connection.vendor
    assert isinstance(result["database_bytes_before"], int) and isinstance(result["database_bytes_after"], int)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # ANALYZE wrote statistics; VACUUM gave back the pages the 3 MB value held.
            assert result["database_bytes_after"] < result["database_bytes_before"] - 3 * 1024 * 1024
            cursor.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'background_jobs'")
            assert cursor.fetchone()[0] > 0
        else:
            cursor.execute(
                "SELECT last_vacuum IS NOT NULL, last_analyze IS NOT NULL "
                "FROM pg_stat_user_tables WHERE relname = 'background_jobs'"
            )
            assert cursor.fetchone() == (True, True)


# --- log_rotate, cleanup and a full cache flush, in one maintenance burst ----------------


def write_gzip(path: Path, text: str) -> Path:
    path.write_bytes(gzip.compress(text.encode()))
    return path


@override_settings(CACHES=DB_CACHE)
def test_maintenance_burst__logs_archived_old_rows_files_and_cache_entries_deleted(transactional_db, org, tmp_path):
    log_dir, temp_dir = tmp_path / "log", tmp_path / "tmp"
    log_dir.mkdir()
    (temp_dir / "sub").mkdir(parents=True)
    now = timezone.now()

    # Logs: app.log is rotated; small.log is under max_bytes; empty.log is empty. The
    # worker writes its own hcm.log here too, and keeps writing while it is rotated.
    app_lines = "".join(f"2025-01-01T00:00:{i % 60:02d} INFO app line {i}\n" for i in range(2000))
    (log_dir / "app.log").write_text(app_lines)
    (log_dir / "small.log").write_text("tiny\n")
    (log_dir / "empty.log").touch()
    old_app_archives = [write_gzip(log_dir / f"app.log.2020010{d}T000000Z.gz", f"old archive {d}\n") for d in (1, 2, 3)]
    expired_archive = write_gzip(log_dir / "gone.log.20190101T000000Z.gz", "expired\n" * 100)
    set_age(expired_archive, timedelta(days=40))
    recent_archive = write_gzip(log_dir / "kept.log.20240101T000000Z.gz", "recent\n")
    set_age(recent_archive, timedelta(days=1))
    # What an interrupted rotation leaves: the renamed log and a half-written archive.
    crashed = log_dir / "crashed.log.20240101T000000Z"
    crashed.write_text("crashed line\n" * 50)
    (log_dir / "crashed.log.20240101T000000Z.gz.part").write_bytes(b"\x1f\x8b half")

    # Temp files: two past JOBS_TEMP_MAX_AGE_HOURS (24), one fresh.
    old_temp = [temp_dir / "a.tmp", temp_dir / "sub" / "b.tmp"]
    for path, size in zip(old_temp, (100, 50), strict=True):
        path.write_bytes(b"x" * size)
        set_age(path, timedelta(hours=25))
    fresh_temp = temp_dir / "fresh.tmp"
    fresh_temp.write_bytes(b"y" * 10)

    # Finished jobs on both sides of their retention (completed 30 d, failed 7 d, cancelled 30 d).
    def finished_job(status: str, age_days: float) -> BackgroundJob:
        return BackgroundJob.objects.create(
            organization=org, job_type="noop", status=status, completed_at=now - timedelta(days=age_days)
        )

    old_completed = finished_job(JobStatus.COMPLETED, 31)
    for attempt in (1, 2):
        JobAttempt.objects.create(
            job=old_completed,
            attempt=attempt,
            worker_id="w-old",
            job_type="noop",
            started_at=now - timedelta(days=31),
            finished_at=now - timedelta(days=31),
            duration_ms=1.0,
            outcome=AttemptOutcome.COMPLETED,
        )
    old_failed = finished_job(JobStatus.FAILED, 8)
    old_cancelled = finished_job(JobStatus.CANCELLED, 31)
    kept_jobs = [
        finished_job(JobStatus.COMPLETED, 29),
        finished_job(JobStatus.FAILED, 6),
        finished_job(JobStatus.CANCELLED, 10),
        BackgroundJob.objects.create(organization=org, job_type="noop", run_at=now + timedelta(days=365)),
    ]
    BackgroundJob.objects.filter(pk=kept_jobs[-1].pk).update(created_at=now - timedelta(days=100))

    def heartbeat(worker_id: str, *, seen_days: float, stopped: bool) -> None:
        seen = now - timedelta(days=seen_days)
        WorkerHeartbeat.objects.create(
            worker_id=worker_id,
            hostname="h",
            pid=1,
            started_at=seen,
            last_seen_at=seen,
            stopped_at=seen if stopped else None,
        )

    heartbeat("stopped-long-ago", seen_days=8, stopped=True)
    heartbeat("vanished", seen_days=8, stopped=False)
    heartbeat("recent", seen_days=1, stopped=True)
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    for jti, days in (("expired", -1), ("live", 1)):
        OutstandingToken.objects.create(
            jti=jti, token="x", created_at=timezone.now(), expires_at=timezone.now() + timedelta(days=days)
        )

    caches["default"].set_many({"a": 1, "b": 2, "c": 3}, timeout=None)

    rotate = enqueue(None, "log_rotate", {"max_bytes": 50, "keep": 2})
    clean = enqueue(None, "cleanup", {"type": "all"})
    flush = enqueue(None, "cache_flush", {"action": "full"})
    run_burst(tmp_path, LOG_DIR=str(log_dir), JOBS_TEMP_DIR=str(temp_dir))

    # log_rotate: app.log and hcm.log archived; their newest 2 archives kept.
    result = completed(rotate)
    archives = {p.name: p for p in log_dir.glob("*.gz")}
    new_archives = {name: archives[name] for name in result["archives"]}
    assert sorted(ARCHIVE_NAME.match(n)["log"] for n in new_archives) == ["app.log", "crashed.log", "hcm.log"]
    assert result["logs_archived"] == 3
    crashed_archive = log_dir / "crashed.log.20240101T000000Z.gz"
    assert gzip.decompress(crashed_archive.read_bytes()).decode() == "crashed line\n" * 50
    assert not crashed.exists() and not list(log_dir.glob("*.part"))
    [app_archive] = [p for n, p in new_archives.items() if n.startswith("app.log.")]
    [hcm_archive] = [p for n, p in new_archives.items() if n.startswith("hcm.log.")]
    assert gzip.decompress(app_archive.read_bytes()).decode() == app_lines
    assert not (log_dir / "app.log").exists()
    assert (log_dir / "small.log").read_text() == "tiny\n"
    assert (log_dir / "empty.log").stat().st_size == 0
    assert result["archives_deleted"] == 2
    assert [p.exists() for p in old_app_archives] == [False, False, True]
    # The worker's own log: lines before the rotation are in the archive, later ones in
    # the fresh hcm.log its WatchedFileHandler opened.
    hcm_before = gzip.decompress(hcm_archive.read_bytes()).decode()
    hcm_after = (log_dir / "hcm.log").read_text()
    assert "worker started" in hcm_before
    assert f'job_id="{rotate.id}"' in hcm_after
    deleted_bytes = sum(len(gzip.compress(f"old archive {d}\n".encode())) for d in (1, 2))
    assert result["bytes_freed"] == (
        len(app_lines.encode())
        - app_archive.stat().st_size
        + len(hcm_before.encode())
        - hcm_archive.stat().st_size
        + len(("crashed line\n" * 50).encode())
        - crashed_archive.stat().st_size
        + deleted_bytes
    )

    # cleanup: expired rows gone, recent ones kept; old archive and temp files deleted.
    result = completed(clean)
    records = result["records_deleted"]
    assert {k: records[k] for k in ("completed_jobs", "failed_jobs", "cancelled_jobs", "job_attempts")} == {
        "completed_jobs": 1,
        "failed_jobs": 1,
        "cancelled_jobs": 1,
        "job_attempts": 2,
    }
    assert records["worker_heartbeats"] == 2
    assert records["expired_refresh_tokens"] == 1
    assert list(OutstandingToken.objects.values_list("jti", flat=True)) == ["live"]
    assert not BackgroundJob.objects.filter(pk__in=[old_completed.pk, old_failed.pk, old_cancelled.pk]).exists()
    assert not JobAttempt.objects.filter(job_id=old_completed.pk).exists()
    assert BackgroundJob.objects.filter(pk__in=[j.pk for j in kept_jobs]).count() == len(kept_jobs)
    assert BackgroundJob.objects.filter(pk=rotate.pk).exists()
    assert set(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) >= {"recent"}
    assert not WorkerHeartbeat.objects.filter(worker_id__in=["stopped-long-ago", "vanished"]).exists()
    assert not expired_archive.exists() and recent_archive.exists() and app_archive.exists()
    assert [p.exists() for p in old_temp] == [False, False] and fresh_temp.exists()
    assert (temp_dir / "sub").is_dir()
    assert result["files_deleted"] == 3
    assert result["bytes_freed"] == 150 + len(gzip.compress(("expired\n" * 100).encode()))
    assert result["type"] == "all"

    # cache_flush full: every entry gone, each counted.
    result = completed(flush)
    assert result["items_cleared"] == 3
    assert caches["default"].get_many(["a", "b", "c"]) == {}


def test_rotate_log__lines_written_during_the_rotation_are_all_kept(tmp_path):
    """A process keeps logging through a WatchedFileHandler while its log is rotated:
    every line ends up once, in order, in the archive or in the new log."""
    path = tmp_path / "live.log"
    handler = logging.handlers.WatchedFileHandler(path)
    writer = logging.getLogger("tests.rotate_live")
    writer.propagate = False
    writer.addHandler(handler)
    stop, written = threading.Event(), []

    def write() -> None:
        while not stop.is_set():
            written.append(f"line {len(written)}")
            writer.warning(written[-1])

    thread = threading.Thread(target=write)
    thread.start()
    try:
        time.sleep(0.05)
        archived = logfiles.rotate_log(path, now=timezone.now())
        time.sleep(0.05)
    finally:
        stop.set()
        thread.join()
        writer.removeHandler(handler)
        handler.close()

    before = gzip.decompress(archived.archive.read_bytes()).decode().splitlines()
    after = path.read_text().splitlines()
    assert before and after
    assert before + after == written
    assert archived.original_bytes == len("".join(f"{line}\n" for line in before))


# --- email_send --------------------------------------------------------------------------


def test_email_send__delivered_to_smtp_server_with_result_message_id(transactional_db, org, tmp_path):
    disabled_org = make_org("quiet")
    quiet = notification_settings_get(organization=disabled_org)
    quiet.email_enabled = False
    quiet.save()
    sender = notification_settings_get(organization=org)
    sender.email_from_address = "alerts@acme.example"
    sender.email_from_name = "Acme Alerts"
    sender.save()

    plain = enqueue(org, "email_send", {"to": "ops@example.com", "subject": "Disk alert", "body": "Disk at 91%.\n"})
    templated = enqueue(
        org,
        "email_send",
        {
            "to": ["a@example.com", "b@example.com"],
            "subject": "Payroll closed",
            "template": "notice",
            "data": {"title": "Payroll closed", "message": "Fish & chips <b>", "action_url": "https://x.example/p"},
        },
    )
    disabled = enqueue(disabled_org, "email_send", {"to": "ops@example.com", "subject": "Hi", "body": "x"})
    # A job inserted another way than job_enqueue (which refuses an email without an organization).
    orphan = BackgroundJob.objects.create(
        organization=None, job_type="email_send", payload={"to": ["ops@example.com"], "subject": "Hi", "body": "x"}
    )
    with SMTPServer() as smtp:
        run_burst(tmp_path, EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp.port))

    assert len(smtp.messages) == 2
    received = {m["Message-ID"]: m for m in smtp.messages}

    result = completed(plain)
    message = received[result["message_id"]]
    assert result == {"message_id": message["Message-ID"], "to": ["ops@example.com"], "subject": "Disk alert"}
    assert message["To"] == "ops@example.com"
    assert message["Subject"] == "Disk alert"
    assert message["From"] == "Acme Alerts <alerts@acme.example>"
    assert message.get_content().replace("\r\n", "\n") == "Disk at 91%.\n"

    result = completed(templated)
    message = received[result["message_id"]]
    assert result["to"] == ["a@example.com", "b@example.com"]
    assert message["To"] == "a@example.com, b@example.com"
    assert message["Subject"] == "Payroll closed"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Fish & chips <b>" in text and org.name in text and "https://x.example/p" in text
    assert "Fish &amp; chips &lt;b&gt;" in html and 'href="https://x.example/p"' in html

    for job, reason in ((disabled, "Email is disabled"), (orphan, "needs an organization")):
        job = finished(job)
        assert job.status == JobStatus.FAILED
        assert reason in job.error_message
        assert job.attempts.count() == 1  # a permanent error is not retried


# --- cache_flush on Redis ------------------------------------------------------------------


def _redis_client():
    try:
        import redis
    except ImportError:
        pytest.skip("the redis package is not installed")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    return client


def test_email_send__over_starttls(transactional_db, org, tmp_path):
    """EMAIL_USE_TLS: the worker, which loads OpenSSL only at its first use
    (hcm/worker_imports.py), upgrades the SMTP connection with STARTTLS."""
    job = enqueue(org, "email_send", {"to": "ops@example.com", "subject": "Over TLS", "body": "Sealed.\n"})
    cert, key = self_signed_certificate(tmp_path)
    with SMTPServer(certificate=(cert, key)) as smtp:
        # SSL_CERT_FILE: OpenSSL's default trust store, which Django's SMTP backend verifies with.
        tls = {"EMAIL_USE_TLS": "true", "SSL_CERT_FILE": str(cert)}
        run_burst(tmp_path, EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp.port), **tls)

    assert completed(job)["subject"] == "Over TLS"
    [message] = smtp.messages
    assert message["Subject"] == "Over TLS"
    assert smtp.collector.sessions[0].ssl is not None  # the message came over TLS


def test_cache_flush_on_redis__prefix_then_full__keys_deleted_and_counted(transactional_db, org, tmp_path):
    client = _redis_client()
    client.flushdb()
    with override_settings(CACHES=REDIS_CACHE):
        redis_cache = caches["default"]
        # "[" and "]" are glob characters for SCAN MATCH: the prefix must be matched literally.
        redis_cache.set_many({"report[1]:a": 1, "report[1]:b": 2}, timeout=None)
        survivors = {"report1:a": 3, "other": 4, "REPORT[1]:c": 5}
        redis_cache.set_many(survivors, timeout=None)

        client.set("another-program:key", 1)  # shares the Redis database; not ours to delete

        partial = enqueue(None, "cache_flush", {"action": "partial", "prefix": "report[1]:"})
        full = enqueue(None, "cache_flush", {"action": "full"})
        run_burst(tmp_path, REDIS_URL=REDIS_URL)

        # The full flush ran second: what it found is what the partial flush left.
        assert completed(partial)["items_cleared"] == 2
        assert completed(full)["items_cleared"] == len(survivors)
        assert client.keys("*") == [b"another-program:key"]
    client.close()


# --- payload validation at enqueue ---------------------------------------------------------

OK_EMAIL = {"to": "ops@example.com", "subject": "Hello"}


@pytest.mark.parametrize(
    ("job_type", "payload", "field"),
    [
        ("cache_flush", {}, "action"),
        ("cache_flush", {"action": "everything"}, "action"),
        ("cache_flush", {"action": "partial"}, "prefix"),
        ("cache_flush", {"action": "partial", "prefix": ""}, "prefix"),
        ("cache_flush", {"action": "partial", "prefix": 5}, "prefix"),
        ("cache_flush", {"action": "full", "prefix": "x"}, "prefix"),
        ("cache_flush", {"action": "full", "cache": "other"}, "cache"),
        ("db_optimize", {"tables": ["x"]}, None),
        ("log_rotate", {"keep": 0}, "keep"),
        ("log_rotate", {"keep": "many"}, "keep"),
        ("log_rotate", {"keep": "5"}, "keep"),
        ("log_rotate", {"keep": True}, "keep"),
        ("log_rotate", {"max_bytes": 1.5}, "max_bytes"),
        ("log_rotate", {"max_bytes": -1}, "max_bytes"),
        ("log_rotate", {"path": "/etc"}, "path"),
        ("email_send", {"subject": "Hello", "body": "x"}, "to"),
        ("email_send", {**OK_EMAIL, "to": "not-an-address", "body": "x"}, "to"),
        ("email_send", {**OK_EMAIL, "to": [], "body": "x"}, "to"),
        ("email_send", {**OK_EMAIL, "to": 5, "body": "x"}, "to"),
        ("email_send", {**OK_EMAIL, "to": ["ok@example.com", "bad"], "body": "x"}, "to"),
        ("email_send", {**OK_EMAIL, "subject": "Hello\nBcc: victim@example.com", "body": "x"}, "subject"),
        ("email_send", {**OK_EMAIL, "subject": "Hello\r", "body": "x"}, "subject"),
        ("email_send", {**OK_EMAIL, "subject": "   ", "body": "x"}, "subject"),
        ("email_send", {"to": "ops@example.com", "body": "x"}, "subject"),
        ("email_send", {**OK_EMAIL, "body": 5}, "body"),
        ("email_send", {**OK_EMAIL, "template": "no_such_template"}, "template"),
        ("email_send", {**OK_EMAIL, "template": "../settings"}, "template"),
        ("email_send", {**OK_EMAIL, "template": "notice", "body": "x"}, "template"),
        ("email_send", {**OK_EMAIL, "body": "x", "data": {"a": 1}}, "data"),
        ("email_send", {**OK_EMAIL, "template": "notice", "data": ["a"]}, "data"),
        ("email_send", {**OK_EMAIL, "body": "x", "cc": "x@example.com"}, "cc"),
        ("cleanup", {}, "type"),
        ("cleanup", {"type": "everything"}, "type"),
    ],
)
def test_enqueue__bad_payload_is_rejected_naming_the_field(db, org, job_type, payload, field):
    with pytest.raises(InvalidInput) as exc:
        job_enqueue(organization=scope_org(job_type, org), job_type=job_type, payload=payload)
    errors = exc.value.errors["payload"]
    if field is None:
        assert "takes no payload" in str(errors)
    else:
        assert field in errors, errors
    assert not BackgroundJob.objects.exists()


@pytest.mark.parametrize(
    ("job_type", "payload", "stored"),
    [
        ("cache_flush", {"action": "full"}, {"action": "full"}),
        ("cache_flush", {"action": "partial", "prefix": "report:"}, {"action": "partial", "prefix": "report:"}),
        ("db_optimize", {}, {}),
        ("log_rotate", {}, {"max_bytes": 0, "keep": 7}),
        ("email_send", {**OK_EMAIL, "body": "x"}, {**OK_EMAIL, "to": ["ops@example.com"], "body": "x"}),
        ("email_send", OK_EMAIL, {**OK_EMAIL, "to": ["ops@example.com"]}),
        (
            "email_send",
            {**OK_EMAIL, "template": "notice"},
            {**OK_EMAIL, "to": ["ops@example.com"], "template": "notice"},
        ),
        ("cleanup", {"type": "temp_files"}, {"type": "temp_files"}),
    ],
)
def test_enqueue__valid_payload_is_stored_normalized(db, org, job_type, payload, stored):
    job, created = job_enqueue(organization=scope_org(job_type, org), job_type=job_type, payload=payload)
    assert created
    job.refresh_from_db()
    assert job.payload == stored


def test_enqueue__unknown_template_error_lists_known_templates(db, org):
    with pytest.raises(InvalidInput) as exc:
        job_enqueue(organization=org, job_type="email_send", payload={**OK_EMAIL, "template": "nope"})
    assert "notice" in str(exc.value.errors["payload"]["template"])
