"""log_rotate: archive the service's log files in LOG_DIR as gzip, keep the newest N."""

import time
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from rest_framework import serializers

from jobs import logfiles
from jobs.context import JobContext
from jobs.errors import RetryJobAfter
from jobs.payload_fields import StrictIntegerField
from jobs.registry import job_handler


class LogRotatePayload(serializers.Serializer):
    max_bytes = StrictIntegerField(
        required=False, default=0, min_value=0, help_text="Rotate only logs larger than this (0: every non-empty log)."
    )
    keep = StrictIntegerField(
        required=False, default=7, min_value=1, max_value=1000, help_text="Archives kept per log."
    )


@job_handler("log_rotate", scope="service", payload=LogRotatePayload, timeout=300, priority="low")
def log_rotate(ctx: JobContext) -> dict:
    """Rotate the *.log files in LOG_DIR into gzip archives and delete the oldest archives.

    A log is renamed aside (the service's WatchedFileHandlers open a fresh file at their
    next write), compressed to `<log>.<UTC stamp>.gz`, and the renamed file deleted once
    the archive is on disk. Then each log keeps its newest `keep` archives.

    Result:
    - `logs_archived`: archives written (including renamed logs that an interrupted
      rotation had left uncompressed).
    - `bytes_freed`: for each archive written, the bytes of the log it holds minus the
      bytes of the archive, plus the bytes of every old archive deleted. Measured from
      the files; a tiny log can make it negative (gzip adds a header).
    - `archives_deleted`: old archives removed beyond `keep`.
    """
    started = time.perf_counter()
    if settings.LOG_DIR is None:
        # Logs go to the console only (LOG_DIR unset or "-"): whoever collects them rotates them.
        return {
            "logs_archived": 0,
            "archives": [],
            "bytes_freed": 0,
            "archives_deleted": 0,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "note": "LOG_DIR is not set: the service logs to the console only; no log files to rotate.",
        }
    log_dir = Path(settings.LOG_DIR)
    max_bytes = ctx.payload.get("max_bytes", 0)
    keep = ctx.payload.get("keep", 7)
    try:
        with logfiles.rotation_lock(log_dir):
            archived = _archive_logs(ctx, log_dir, max_bytes=max_bytes)
            deleted = logfiles.prune_archives(log_dir, keep=keep)
    except logfiles.RotationBusy as exc:
        raise RetryJobAfter(str(exc), delay_seconds=60) from exc
    return {
        "logs_archived": len(archived),
        "archives": [a.archive.name for a in archived],
        "bytes_freed": sum(a.original_bytes - a.archive_bytes for a in archived) + sum(a.size for a in deleted),
        "archives_deleted": len(deleted),
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
    }


def _archive_logs(ctx: JobContext, log_dir: Path, *, max_bytes: int) -> list[logfiles.ArchivedLog]:
    logfiles.discard_partial_archives(log_dir)
    archived = [logfiles.compress_pending(p) for p in logfiles.pending_rotations(log_dir)]
    due = [log for log in logfiles.live_logs(log_dir) if _size(log) > max_bytes]
    now = datetime.now(UTC)
    for i, log in enumerate(due):
        rotated = logfiles.rotate_log(log, now=now)
        if rotated is not None:
            archived.append(rotated)
        ctx.set_progress(int(90 * (i + 1) / len(due)))
    return archived


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:  # removed since it was listed
        return 0
