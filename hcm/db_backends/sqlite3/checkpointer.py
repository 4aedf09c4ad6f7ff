"""WAL checkpoints in a thread of their own, so that a committing request never waits for one.

In WAL mode (hcm/settings.py) every commit appends the pages it changed to the -wal file; a
checkpoint copies them back into the database file and fsyncs both files. SQLite's own
`wal_autocheckpoint` runs it inside the commit that crosses the threshold, so that one call
(an enqueue, a request) waits for the copy and both fsyncs: 11 of 10,000 single enqueues
took 23–28 % of their time so (README, *Performance*). Instead, with SQLITE_CHECKPOINT_THREAD
on (the default), one daemon thread per process and database file checkpoints:

- It looks at the WAL's frame counts in the -shm file's header (the wal-index header, a
  documented format: https://sqlite.org/walformat.html) every POLL_SECONDS while the WAL grows,
  backing off to IDLE_POLL_SECONDS while it does not. A look is one small read, no lock,
  through a descriptor that stays open (closing one would drop SQLite's locks: _shm_fd).
- Once half of SQLITE_WAL_AUTOCHECKPOINT frames are not yet copied back it runs `PRAGMA
  wal_checkpoint(PASSIVE)`: copies and fsyncs without blocking readers or writers (a
  checkpoint already running in another process makes it a no-op).
- A PASSIVE checkpoint cannot start the -wal file over while writes keep coming (SQLite
  rewinds it only when a transaction begins with every frame copied back), so once the WAL
  holds SQLITE_WAL_AUTOCHECKPOINT frames the thread copies with PASSIVE until little is
  left, then runs `PRAGMA wal_checkpoint(RESTART)`: writers wait (their busy timeout) while
  it copies that rest and fsyncs, a few ms, and the next commit writes from the start of
  the file again (overwriting its pages is cheaper than growing the file). A read that
  holds the WAL longer than RESTART_BUSY_SECONDS makes it give up (writers waited that
  long once) and try again only after the WAL has grown by half as much again. The -wal file so
  stays about SQLITE_WAL_AUTOCHECKPOINT pages (what it reached before, with SQLite's
  checkpoints), and readers' look-ups in the WAL index stay short (they skip copied frames).
- The connections Django opens keep SQLite's own checkpoint only as a fallback, at
  FALLBACK_FACTOR × SQLITE_WAL_AUTOCHECKPOINT pages: if no thread keeps up (a reader held
  the WAL too long for RESTART, a process without this backend), commits checkpoint as
  before and the WAL stays bounded.

Durability is unchanged: a checkpoint never decides what a commit has written (commits
append to the WAL, synchronous=NORMAL as before); it only moves the copy and the fsyncs off
the commit. Every process that opens the database (web, runworker, manage.py commands) runs
its own thread; they share the work through SQLite's checkpoint lock. Log lines: DEBUG,
logger `hcm.sqlite`.
"""

import logging
import os
import sqlite3
import struct
import threading
import time
import urllib.parse
from dataclasses import dataclass

logger = logging.getLogger("hcm.sqlite")

POLL_SECONDS = 0.01
IDLE_POLL_SECONDS = 0.05  # at 10,000 enqueues/s the WAL grows ~5,500 pages in this time
RESTART_BUSY_SECONDS = 0.1  # how long RESTART waits for a writer / reader (writers wait too)
FALLBACK_FACTOR = 2
PASSIVE_ROUNDS = 3  # at most, before a RESTART: each has two fsyncs, during which more arrives
RESTART_PENDING = 500  # frames left for RESTART to copy while writers wait: ~50 enqueues

# The wal-index header (walformat.html): mxFrame (frames in the WAL) at byte 16 of the first
# copy of WalIndexHdr, nBackfill (frames copied back) at byte 96, the first field of
# WalCkptInfo; both u32 in the machine's byte order.
_HEADER = struct.Struct("=16xI76xI")


@dataclass(frozen=True)
class WalFrames:
    total: int  # frames in the WAL since it last started over
    copied: int  # of which a checkpoint has copied back into the database

    @property
    def pending(self) -> int:
        return self.total - self.copied


def wal_frames(path: str) -> WalFrames | None:
    """The WAL's frame counts, from the -shm file; None if there is no WAL index (yet)."""
    fd = _shm_fd(f"{path}-shm")
    if fd is None:
        return None
    header = os.pread(fd, _HEADER.size, 0)
    if len(header) < _HEADER.size:
        return None
    total, copied = _HEADER.unpack(header)
    return WalFrames(total=total, copied=copied)


# Each -shm file's descriptor, opened once and never closed: closing any descriptor of a
# file drops every POSIX lock this process holds on it, the locks of SQLite's own
# connections included (https://sqlite.org/howtocorrupt.html, 2.2): another process could
# then write or checkpoint beside them and corrupt the database. One descriptor per -shm
# file a process sees (a new one only when SQLite made the file again).
_shm_fds: dict[str, tuple[int, int]] = {}  # path → (inode, descriptor)
_shm_lock = threading.Lock()


def _shm_fd(shm_path: str) -> int | None:
    try:
        inode = os.stat(shm_path).st_ino
    except FileNotFoundError:
        return None
    with _shm_lock:
        known = _shm_fds.get(shm_path)
        if known is None or known[0] != inode:
            try:
                fd = os.open(shm_path, os.O_RDONLY)
            except FileNotFoundError:
                return None
            known = _shm_fds[shm_path] = (os.fstat(fd).st_ino, fd)
        return known[1]


class Checkpointer:
    """Checkpoints one database file when its WAL asks for it (see the module's docstring)."""

    def __init__(self, path: str, *, restart_pages: int) -> None:
        self.path = path
        self.restart_pages = restart_pages
        # Halfway: each checkpoint copies a hot page (an index's last leaf) once for the
        # many commits that rewrote it, so fewer, larger ones copy less (1,000, SQLite's
        # default, made the enqueues' process spend more CPU on copying, measured).
        self.passive_pages = max(1, restart_pages // 2)
        self.restart_after = 0  # frames: raised after a RESTART that a reader kept busy
        self.stop = threading.Event()

    def check(self) -> str | None:
        """Look once and checkpoint if due; returns the mode run ("PASSIVE", "RESTART"), if any."""
        frames = wal_frames(self.path)
        if frames is None:
            return None
        if frames.total >= max(self.restart_pages, self.restart_after) and frames.pending:
            # (Nothing pending: the RESTART is done, the next commit starts the file over.)
            # Copy first without blocking anyone (what arrives meanwhile too, a few rounds),
            # so that RESTART, during which writers wait, has little left to copy.
            for _ in range(PASSIVE_ROUNDS):
                self._checkpoint("PASSIVE", frames)
                frames = wal_frames(self.path) or frames
                if frames.pending <= RESTART_PENDING:
                    break
            if self._checkpoint("RESTART", frames):
                # A long read holds the WAL: writers waited RESTART_BUSY_SECONDS for nothing.
                # Not again until the WAL has grown by half as much again (the fallback bounds it).
                self.restart_after = frames.total + self.passive_pages
            else:
                self.restart_after = 0
            return "RESTART"
        if frames.pending >= self.passive_pages:
            self._checkpoint("PASSIVE", frames)
            return "PASSIVE"
        return None

    def _checkpoint(self, mode: str, frames: WalFrames) -> bool:
        """Run one checkpoint; True if it was busy (could not copy everything / restart)."""
        started = time.perf_counter()
        # A connection per checkpoint (a few per thousand commits): a database file made
        # again at the same path (the test database) is the new file; mode=rw: one removed
        # meanwhile is not made again, empty. (SQLite keeps its locks across its own closes.)
        uri = f"file:{urllib.parse.quote(self.path)}?mode=rw"
        conn = sqlite3.connect(uri, uri=True, timeout=RESTART_BUSY_SECONDS, isolation_level=None)
        try:
            busy, total, copied = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        finally:
            conn.close()
        logger.debug(
            "wal checkpoint",
            extra={
                "mode": mode,
                "frames_before": frames.total,
                "pending_before": frames.pending,
                "frames": total,
                "copied": copied,
                "busy": bool(busy),
                "ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
        return bool(busy)

    def run(self) -> None:
        """Check until stopped: often while the WAL grows, less often while it does not."""
        interval, last = POLL_SECONDS, None
        while not self.stop.wait(interval):
            try:
                self.check()
                frames = wal_frames(self.path)
            except (OSError, sqlite3.Error):
                logger.debug("wal checkpoint failed", exc_info=True)
                frames = None
            grew = frames is not None and frames != last
            interval = POLL_SECONDS if grew else min(interval * 2, IDLE_POLL_SECONDS)
            last = frames


_lock = threading.Lock()
_running: dict[str, tuple[int, Checkpointer]] = {}  # path → (pid, checkpointer)


def fallback_pages(restart_pages: int) -> int:
    """wal_autocheckpoint of connections while a checkpointer runs: above where it restarts
    the WAL, so that SQLite's own checkpoint runs in a commit only if the thread falls behind."""
    return restart_pages * FALLBACK_FACTOR


def ensure_running(path: str, *, restart_pages: int) -> Checkpointer:
    """The checkpointer thread of `path` in this process, started if it is not (a forked
    process has none of its parent's threads)."""
    key = os.path.realpath(path)
    with _lock:
        pid, checkpointer = _running.get(key, (None, None))
        if checkpointer is None or pid != os.getpid() or checkpointer.stop.is_set():
            checkpointer = Checkpointer(key, restart_pages=restart_pages)
            threading.Thread(target=checkpointer.run, name=f"sqlite-checkpointer {key}", daemon=True).start()
            _running[key] = (os.getpid(), checkpointer)
        return checkpointer


def running(path: str) -> Checkpointer | None:
    """This process's checkpointer of `path`, if one runs."""
    with _lock:
        pid, checkpointer = _running.get(os.path.realpath(path), (None, None))
        return checkpointer if pid == os.getpid() and checkpointer and not checkpointer.stop.is_set() else None


def stop_all() -> None:
    """Stop this process's checkpointer threads (they end within IDLE_POLL_SECONDS)."""
    with _lock:
        for _, checkpointer in _running.values():
            checkpointer.stop.set()
        _running.clear()
