"""How many notification streams one ASGI process holds, and how fast a new notification
reaches 1,000 open streams.

    .venv/bin/python bench/stream.py                       # SQLite and PostgreSQL
    .venv/bin/python bench/stream.py --db sqlite --streams 2000 --latency-streams 1000 --rounds 5

One `daphne hcm.asgi:application` process serves a fresh database (SQLite file under
var/bench/, or the PostgreSQL database `bench_stream`, created and dropped). This script
opens the streams itself (asyncio, raw sockets, one JWT per user) and reads the events off
the wire.

- capacity: opens --streams streams (in batches of 200), waits for every stream's first
  event, then checks that every one still gets a heartbeat; reports the server's RSS
  (VmRSS) before and after, and per stream.
- latency: with one stream open for each of --latency-streams users, `notify()` sends one
  event to all of them (one fan-out, in this process, against the same database); latency
  of a stream = the moment its `notification` event was read − the moment just before
  notify() was called (one machine, one clock). --rounds fan-outs; p50 / p95 / max over
  every stream of every round.
"""

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SECRET = "bench-only-secret-key-not-for-production"
PG_NAME = "bench_stream"


def setup_django(database_url: str) -> None:
    os.environ.update(DATABASE_URL=database_url, SECRET_KEY=SECRET, LOG_LEVEL="WARNING", JWT_ACCESS_MINUTES="120")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hcm.settings")
    import django

    django.setup()


def prepare(users: int) -> list[tuple[int, str]]:
    """Migrate, create an organization with `users` members; (user id, access token) each."""
    from django.core.management import call_command
    from rest_framework_simplejwt.tokens import AccessToken

    from hcm.models import Organization, Role, User
    from notifications.services.notification_settings import notification_settings_get

    call_command("migrate", verbosity=0)
    org = Organization.objects.create(name="Bench", slug="bench")
    ns = notification_settings_get(organization=org)
    ns.email_enabled = False  # in-app only: the stream is measured, not the mail queue
    ns.save()
    User.objects.bulk_create(
        [User(username=f"u{i}", organization=org, role=Role.MEMBER, password="!") for i in range(users)]
    )
    return [(u.pk, str(AccessToken.for_user(u))) for u in User.objects.filter(organization=org).order_by("pk")]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Stream:
    def __init__(self, token: str) -> None:
        self.token = token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self, port: int) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self.writer.write(
            (
                "GET /api/notifications/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {self.token}\r\nAccept: text/event-stream\r\n\r\n"
            ).encode()
        )
        await self.writer.drain()
        status = await self.reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"stream refused: {status!r}")
        while (await self.reader.readline()) not in (b"\r\n", b""):
            pass  # headers

    async def until(self, marker: bytes) -> float:
        """Read until a line containing `marker`; the time it was read."""
        assert self.reader is not None, "open() first"
        while True:
            line = await self.reader.readline()
            if not line:
                raise EOFError("stream closed")
            if marker in line:
                return time.time()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def start_server(database_url: str, port: int, log: Path) -> subprocess.Popen:
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        SECRET_KEY=SECRET,
        LOG_LEVEL=os.environ.get("BENCH_SERVER_LOG_LEVEL", "WARNING"),
        NOTIFICATIONS_STREAM_HEARTBEAT_SECONDS="5",
        ALLOWED_HOSTS="127.0.0.1",
    )
    out = open(log, "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "hcm.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    import socket

    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"daphne did not start; see {log}")


async def open_many(tokens: list[str], port: int) -> list[Stream]:
    streams: list[Stream] = []
    for i in range(0, len(tokens), 200):
        batch = [Stream(t) for t in tokens[i : i + 200]]
        await asyncio.gather(*(s.open(port) for s in batch))
        await asyncio.gather(*(s.until(b"event: unread") for s in batch))
        streams += batch
    return streams


async def capacity(tokens: list[str], port: int, pid: int, count: int) -> dict:
    before = rss_mib(pid)
    started = time.monotonic()
    streams = await open_many([tokens[i % len(tokens)] for i in range(count)], port)
    opened_s = time.monotonic() - started
    after = rss_mib(pid)
    # Every stream still alive: each gets its next heartbeat.
    alive = await asyncio.gather(
        *(asyncio.wait_for(s.until(b": heartbeat"), 15) for s in streams), return_exceptions=True
    )
    ok = sum(1 for a in alive if not isinstance(a, BaseException))
    for s in streams:
        s.close()
    return {"streams": count, "alive": ok, "open_seconds": opened_s, "rss_before": before, "rss_after": after}


async def latency(users: list[tuple[int, str]], port: int, rounds: int) -> tuple[list[float], list[float], list[float]]:
    from asgiref.sync import sync_to_async

    from hcm.models import Organization
    from notifications.services.notify import notify

    streams = await open_many([t for _, t in users], port)
    org = await sync_to_async(Organization.objects.get)(slug="bench")
    ids = [u for u, _ in users]
    samples: list[float] = []
    after_commit: list[float] = []
    fanout_ms: list[float] = []
    for r in range(rounds):
        waiting = [asyncio.create_task(s.until(b"event: notification")) for s in streams]
        await asyncio.sleep(0.5)
        t0 = time.time()
        await sync_to_async(notify)(org, "employee_hired", data={"employee_name": f"Round {r}"}, recipients=ids)
        t1 = time.time()
        arrived = await asyncio.wait_for(asyncio.gather(*waiting), 60)
        samples += [(t - t0) * 1000 for t in arrived]
        after_commit += [(t - t1) * 1000 for t in arrived]
        fanout_ms.append((t1 - t0) * 1000)
        await asyncio.sleep(0.5)
    for s in streams:
        s.close()
    return samples, after_commit, fanout_ms


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def run(db: str, args) -> list[str]:

    var = ROOT / "var" / "bench"
    var.mkdir(parents=True, exist_ok=True)
    if db == "sqlite":
        path = var / "stream.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"DROP DATABASE IF EXISTS {PG_NAME}"], check=True
        )
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {PG_NAME}"], check=True)
        url = f"postgres://postgres@127.0.0.1:5432/{PG_NAME}"
    # A child process does the work, so each database gets a fresh Django.
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            db,
            "--url",
            url,
            "--streams",
            str(args.streams),
            "--latency-streams",
            str(args.latency_streams),
            "--rounds",
            str(args.rounds),
        ],
        capture_output=True,
        text=True,
    )
    if db == "postgres" and not args.keep:
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"DROP DATABASE IF EXISTS {PG_NAME}"])
    if out.returncode != 0:
        raise SystemExit(f"{db} run failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout.strip().splitlines()


def child(args) -> None:
    from tests.servers import free_port

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    setup_django(args.url)
    users = prepare(max(args.latency_streams, 1000))
    port = free_port()
    log = ROOT / "var" / "bench" / f"daphne-{args.child}.log"
    server = start_server(args.url, port, log)
    try:
        cap = asyncio.run(capacity([t for _, t in users], port, server.pid, args.streams))
        samples, after_commit, fanout_ms = asyncio.run(latency(users[: args.latency_streams], port, args.rounds))
    finally:
        server.terminate()
        server.wait(timeout=20)
    db = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[args.child]
    per = (cap["rss_after"] - cap["rss_before"]) * 1024 / cap["streams"]
    print(
        f"| {db} | open streams held by one daphne process | {cap['alive']:,} of {cap['streams']:,} alive "
        f"(heartbeat received) | opened in {cap['open_seconds']:.1f} s |"
    )
    print(
        f"| {db} | server RSS with them open | {cap['rss_after']:.0f} MiB (idle {cap['rss_before']:.0f} MiB; "
        f"{per:.0f} KiB per stream) | |"
    )
    n = args.latency_streams
    print(
        f"| {db} | delivery latency to {n:,} open streams from notify() returning (committed), p50 / p95 / max "
        f"| {pct(after_commit, 50):.0f} / {pct(after_commit, 95):.0f} / {max(after_commit):.0f} ms "
        f"| {len(samples):,} deliveries, {args.rounds} fan-outs |"
    )
    print(
        f"| {db} | the same from the notify() call (incl. the fan-out writing {n:,} notifications), "
        f"p50 / p95 / max | {pct(samples, 50):.0f} / {pct(samples, 95):.0f} / {max(samples):.0f} ms "
        f"| fan-out itself: median {statistics.median(fanout_ms):.0f} ms |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--streams", type=int, default=5000, help="streams opened for the capacity figure")
    parser.add_argument("--latency-streams", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    print("| DB | figure | value | notes |\n| --- | --- | --- | --- |")
    for db in dbs:
        for line in run(db, args):
            print(line, flush=True)
    print(
        f"\nMachine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end; "
        f"python {sys.version.split()[0]}; `{' '.join(sys.argv)}`"
    )


if __name__ == "__main__":
    main()
