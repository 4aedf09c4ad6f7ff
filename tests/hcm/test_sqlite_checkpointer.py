"""WAL checkpoints run in a thread of their own (hcm/db_backends/sqlite3/checkpointer.py): a
commit does not checkpoint, the thread copies the WAL back and starts it over, so it stays
bounded. On plain SQLite files of the test's own, with the connection settings the backend uses."""

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from hcm.db_backends.sqlite3 import checkpointer
from hcm.db_backends.sqlite3.checkpointer import Checkpointer, wal_frames
from tests.workers import wait_until

RESTART_PAGES = 200  # small, so that a test writes a few hundred frames


def open_db(path: Path) -> sqlite3.Connection:
    """A connection as the backend opens one while a checkpointer runs."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=5)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA wal_autocheckpoint={checkpointer.fallback_pages(RESTART_PAGES)}")
    conn.execute("CREATE TABLE IF NOT EXISTS t (x BLOB)")
    return conn


def write_frames(conn: sqlite3.Connection, path: Path, at_least: int) -> None:
    """Commit small transactions until the WAL holds at least `at_least` frames."""
    while (frames := wal_frames(str(path))) is None or frames.total < at_least:
        conn.execute("INSERT INTO t VALUES (randomblob(3000))")  # autocommit: one commit each


@pytest.fixture
def wal_db(tmp_path: Path) -> Iterator[tuple[sqlite3.Connection, Path]]:
    path = tmp_path / "wal.sqlite3"
    conn = open_db(path)
    yield conn, path
    conn.close()


def test_commit__does_not_checkpoint(wal_db):
    conn, path = wal_db
    write_frames(conn, path, RESTART_PAGES + 50)  # past the checkpointer's threshold, below the fallback

    frames = wal_frames(str(path))
    assert frames is not None and frames.copied == 0  # no commit copied anything back


def test_wal_frames__keeps_this_process_s_sqlite_locks(wal_db):
    # Closing a descriptor of the -shm file would drop them: another process could then
    # write beside this one's open write transaction (how the database gets corrupted).
    conn, path = wal_db
    write_frames(conn, path, 1)
    conn.execute("BEGIN IMMEDIATE")  # holds the WAL's write lock (a lock on the -shm file)
    try:
        for _ in range(3):
            wal_frames(str(path))
        other = subprocess.run(
            [sys.executable, "-c", OTHER_WRITER, str(path)], capture_output=True, text=True, timeout=60
        )
        assert other.stdout.strip() == "locked", other.stderr
    finally:
        conn.execute("ROLLBACK")


OTHER_WRITER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
try:
    conn.execute("BEGIN IMMEDIATE")
    print("wrote")
except sqlite3.OperationalError:
    print("locked")
"""


def test_check__copies_back_once_half_the_restart_threshold_is_pending(wal_db):
    conn, path = wal_db
    first = Checkpointer(str(path), restart_pages=RESTART_PAGES)
    write_frames(conn, path, 10)
    assert first.check() is None

    write_frames(conn, path, RESTART_PAGES // 2)
    assert first.check() == "PASSIVE"
    frames = wal_frames(str(path))
    assert frames is not None and frames.pending == 0 and frames.total >= RESTART_PAGES // 2


def test_check__restarts_a_full_wal(wal_db):
    conn, path = wal_db
    write_frames(conn, path, RESTART_PAGES)

    assert Checkpointer(str(path), restart_pages=RESTART_PAGES).check() == "RESTART"
    conn.execute("INSERT INTO t VALUES (randomblob(3000))")
    frames = wal_frames(str(path))
    assert frames is not None and frames.total < 10  # the next commit wrote from the start


def test_check__a_read_holding_the_wal_postpones_the_next_restart(wal_db):
    conn, path = wal_db
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM t").fetchone()  # holds its snapshot of the WAL
    write_frames(conn, path, RESTART_PAGES)
    first = Checkpointer(str(path), restart_pages=RESTART_PAGES)
    try:
        assert first.check() == "RESTART"  # tried, and gave up: the reader still reads the WAL
        conn.execute("INSERT INTO t VALUES (randomblob(3000))")
        assert first.check() != "RESTART"  # writers are not made to wait for it again at once
        frames = wal_frames(str(path))
        assert frames is not None and frames.total >= RESTART_PAGES  # it did not start over
    finally:
        reader.close()


def test_thread__keeps_the_wal_bounded_while_writes_continue(wal_db):
    conn, path = wal_db
    worker = Checkpointer(str(path), restart_pages=RESTART_PAGES)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        for _ in range(5):  # five times the WAL's bound, in bursts
            write_frames(conn, path, RESTART_PAGES // 2)
            assert wait_until(lambda: (f := wal_frames(str(path))) is not None and f.pending == 0, timeout=10)
            conn.execute("INSERT INTO t VALUES (randomblob(3000))")
        frames = wal_frames(str(path))
        assert frames is not None and frames.total < RESTART_PAGES * 2  # started over at least once
        # The file never grew past what the WAL may hold before a commit checkpoints itself.
        assert os.path.getsize(f"{path}-wal") <= (checkpointer.fallback_pages(RESTART_PAGES) + 10) * 4096
    finally:
        worker.stop.set()
        thread.join(timeout=5)


@pytest.mark.django_db
def test_django_connection__runs_a_checkpointer_and_keeps_sqlite_s_own_as_fallback():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        (pages,) = cursor.fetchone()
    assert pages == checkpointer.fallback_pages(settings.SQLITE_WAL_AUTOCHECKPOINT)
    running = checkpointer.running(str(connection.settings_dict["NAME"]))
    assert running is not None and running.restart_pages == settings.SQLITE_WAL_AUTOCHECKPOINT
