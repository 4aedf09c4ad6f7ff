"""The service's log files in LOG_DIR and their gzip archives: naming, rotating, pruning.

`hcm.log` is archived as `hcm.log.20250107T101532Z.gz` (the UTC time of the rotation;
`hcm.log.20250107T101532Z.1.gz` for a second rotation within the same second). While it is
being compressed the renamed log is `hcm.log.20250107T101532Z` (no `.gz`); a rotation that
was interrupted leaves that file behind and the next rotation finishes it.
"""

import fcntl
import gzip
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

_STAMP = r"(?P<stamp>\d{8}T\d{6}Z)(?:\.(?P<seq>\d+))?"
ARCHIVE_RE = re.compile(rf"^(?P<log>.+\.log)\.{_STAMP}\.gz$")
# The same names as a glob, for deleting old archives: never any other *.gz in LOG_DIR.
ARCHIVE_GLOB = "*.log.*.gz"
PENDING_RE = re.compile(rf"^(?P<log>.+\.log)\.{_STAMP}$")
PART_SUFFIX = ".part"

# How long the renamed log must stay unchanged before it is taken as complete. The
# service's log handlers (hcm.logging.BufferedWatchedFileHandler) write in batches at least
# every FLUSH_INTERVAL (0.2 s) and check the path before each batch, reopening a new file
# once the log is renamed; only a batch whose check came just before the rename still
# lands in the renamed file. The quiet period is a wide margin over that window, so no
# line is lost.
QUIET_SECONDS = 1.0

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Archive:
    path: Path
    log_name: str
    stamp: str
    seq: int
    size: int

    @property
    def order(self) -> tuple[str, int]:
        return (self.stamp, self.seq)


@dataclass(frozen=True)
class ArchivedLog:
    """One log turned into an archive: the bytes it held and the bytes of the archive."""

    log_name: str
    archive: Path
    original_bytes: int
    archive_bytes: int


class RotationBusy(Exception):
    """Another rotation holds LOG_DIR's lock."""


@contextmanager
def rotation_lock(log_dir: Path) -> Iterator[None]:
    """One rotation per LOG_DIR at a time (two jobs renaming the same log would race)."""
    with open(log_dir / ".log_rotate.lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RotationBusy(f"another log rotation is running in {log_dir}") from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def live_logs(log_dir: Path) -> list[Path]:
    """The `*.log` regular files in log_dir (symlinks are not followed or rotated)."""
    return sorted(p for p in log_dir.glob("*.log") if p.is_file() and not p.is_symlink())


def list_archives(log_dir: Path) -> list[Archive]:
    archives = []
    for path in log_dir.glob("*.gz"):
        match = ARCHIVE_RE.match(path.name)
        if match is None or not path.is_file() or path.is_symlink():
            continue
        archives.append(
            Archive(
                path=path,
                log_name=match["log"],
                stamp=match["stamp"],
                seq=int(match["seq"] or 0),
                size=path.lstat().st_size,
            )
        )
    return archives


def pending_rotations(log_dir: Path) -> list[Path]:
    """Renamed logs that an interrupted rotation left uncompressed."""
    return sorted(p for p in log_dir.iterdir() if PENDING_RE.match(p.name) and p.is_file() and not p.is_symlink())


def rotate_log(log: Path, *, now: datetime) -> ArchivedLog | None:
    """Rename the log aside, compress it into an archive, remove the renamed file.

    Returns None when the log vanished meanwhile (nothing to rotate). Call under
    rotation_lock: the target name is chosen by looking, then renamed onto.
    """
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    seq = 0
    while True:
        suffix = f"{stamp}.{seq}" if seq else stamp
        pending = log.with_name(f"{log.name}.{suffix}")
        if not pending.exists() and not _archive_path(pending).exists():
            break
        seq += 1
    try:
        # Writers holding the log open keep writing to the same inode under the new name;
        # their WatchedFileHandler opens a fresh `log` at its next write.
        os.rename(log, pending)
    except FileNotFoundError:
        return None
    return compress_pending(pending)


def compress_pending(pending: Path) -> ArchivedLog:
    """Compress a renamed log into `<pending>.gz` (written aside, fsynced, then renamed
    into place) and delete the renamed log. Waits until the file has been quiet for
    QUIET_SECONDS so late writes that were already under way are archived too."""
    match = PENDING_RE.match(pending.name)
    assert match is not None, pending
    archive = _archive_path(pending)
    if archive.exists():
        # An earlier run finished the archive but stopped before deleting the renamed log.
        size = pending.stat().st_size
        pending.unlink()
        return ArchivedLog(match["log"], archive, size, archive.stat().st_size)
    part = archive.with_name(archive.name + PART_SUFFIX)
    with open(pending, "rb") as src, open(part, "wb") as raw:
        with gzip.GzipFile(filename=pending.name, mode="wb", fileobj=raw) as gz:
            copied = _copy_until_quiet(src, gz)
        raw.flush()
        os.fsync(raw.fileno())
    os.rename(part, archive)
    _fsync_dir(pending.parent)
    pending.unlink()
    return ArchivedLog(match["log"], archive, copied, archive.stat().st_size)


def discard_partial_archives(log_dir: Path) -> None:
    """Remove `.gz.part` files an interrupted compression left (their log is still pending)."""
    for part in log_dir.glob(f"*.gz{PART_SUFFIX}"):
        if part.is_file() and not part.is_symlink():
            part.unlink(missing_ok=True)


def prune_archives(log_dir: Path, *, keep: int) -> list[Archive]:
    """Delete all but the newest `keep` archives of each log; returns the deleted ones."""
    by_log: dict[str, list[Archive]] = {}
    for archive in list_archives(log_dir):
        by_log.setdefault(archive.log_name, []).append(archive)
    deleted = []
    for archives in by_log.values():
        archives.sort(key=lambda a: a.order, reverse=True)
        for archive in archives[keep:]:
            try:
                archive.path.unlink()
            except FileNotFoundError:
                continue
            deleted.append(archive)
    return deleted


def _archive_path(pending: Path) -> Path:
    return pending.with_name(pending.name + ".gz")


def _copy_until_quiet(src, dst) -> int:
    copied = 0
    while True:
        chunk = src.read(_CHUNK)
        if chunk:
            dst.write(chunk)
            copied += len(chunk)
            continue
        time.sleep(QUIET_SECONDS)
        if os.fstat(src.fileno()).st_size <= copied:
            return copied


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
