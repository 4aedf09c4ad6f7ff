"""How a peer's no-op task records that it ran: one line `tag start end pid` appended to
the file named by BENCH_RECORD_PATH with a single O_APPEND write (atomic for a line this
short, so worker processes and threads can share the file). The benchmark reads these
lines, not anything the peer keeps, so every system is timed by the same kind of clock
reading: time.time() taken by the job function itself."""

import os
import time


def record(tag: int, start: float) -> None:
    line = f"{tag} {start:.6f} {time.time():.6f} {os.getpid()}\n"
    fd = os.open(os.environ["BENCH_RECORD_PATH"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read_records(path: str) -> list[tuple[int, float, float, int]]:
    """(tag, start, end, pid) per line that is complete (a line being written is skipped)."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines(keepends=True):
        if not line.endswith("\n"):
            continue
        tag, start, end, pid = line.split()
        out.append((int(tag), float(start), float(end), int(pid)))
    return out
