"""An event to 10,000 people: the API call, the fan-out, and the emails reaching a sink.

    .venv/bin/python bench/fanout.py                       # SQLite and PostgreSQL, 10,000 people
    .venv/bin/python bench/fanout.py --db sqlite --people 2000

Per database (its own: PostgreSQL `bench_fanout_<BENCH_DB_SUFFIX>`, dropped and made again;
SQLite var/bench/fanout.sqlite3): one organization with N active users made in bulk, email
on (critical alerts) and pointing at an aiosmtpd sink this script runs, SITE_URL set (so
every email carries its unsubscribe link), and two `manage.py runworker` processes
(defaults, LOG_LEVEL=WARNING) started and idle. Then one `POST /api/system/notification-events`
(critical_alert to the N users by id) through Django's test client with a real JWT, and:

- API call: the request's wall time (after a warm-up: the same request for one person);
- fan-out: from the call's return until every in-app notification exists and every email
  delivery is queued with its job (polled every 10 ms);
- emails/s: messages the sink accepted per second, first to last (the two workers send
  them while the fan-out of later ones is already done), and the SMTP connections used.

Prints a table with the issue's targets marked met / NOT met and the load average.

    .venv/bin/python bench/fanout.py --sink-only           # the sink's own ceiling

`--sink-only` measures the sink alone, no database and no Django: two sender processes
(as many as the workers) of four threads each (a worker's default concurrency), each thread
sending its share of N pre-built messages (multipart text + HTML, the size of the
fan-out's emails) over one kept-open connection with smtplib; prints messages/s at the
sink, first to last. The fan-out's emails/s cannot exceed it on the same machine.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_API_MS = 200.0
TARGET_FANOUT_S = {"sqlite": 4.0, "postgres": 2.0}
TARGET_EMAILS_PER_S = 500.0


def make_people(people: int, *, admins: bool = False) -> tuple[Any, Any, list[int]]:
    """After django.setup(): the organization "Bench" with its system admin and `people`
    active users made in bulk (system admins too with `admins`: the default recipients,
    resolved when the job runs), email on for critical alerts; PostgreSQL then VACUUM
    ANALYZEd. Returns (organization, admin, the people's ids)."""
    from django.db import connection

    from hcm.models import Organization, Role, User
    from notifications.services.notification_settings import notification_settings_get

    org = Organization.objects.create(name="Bench", slug="bench")
    admin = User.objects.create_user("bench-admin", "admin@bench.test", None, organization=org, role=Role.SYSTEM_ADMIN)
    User.objects.bulk_create(
        [
            User(
                username=f"person{i}",
                email=f"person{i}@bench.test",
                first_name="Person",
                last_name=str(i),
                organization=org,
                role=Role.SYSTEM_ADMIN if admins else Role.MEMBER,
                password="!",
            )
            for i in range(people)
        ],
        batch_size=2000,
    )
    ids = list(User.objects.filter(organization=org, username__startswith="person").values_list("pk", flat=True))
    ns = notification_settings_get(organization=org)
    ns.email_enabled, ns.email_on_critical_alerts, ns.email_on_org_updated = True, True, False
    ns.email_from_address, ns.email_from_name = "hr@bench.test", "Bench HR"
    ns.sms_enabled = ns.slack_enabled = False
    ns.save()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    return org, admin, ids


def _pg_name(name: str) -> str:
    return f"bench_{name}_{os.environ.get('BENCH_DB_SUFFIX', 'main')}"


def database_url(db: str, name: str = "fanout") -> str:
    """An empty database for a run: PostgreSQL `bench_<name>_<BENCH_DB_SUFFIX>` (made again),
    or SQLite var/bench/<name>.sqlite3."""
    if db == "postgres":
        name = _pg_name(name)
        for sql in [f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}"]:
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", sql], check=True)
        return f"postgres://postgres@127.0.0.1:5432/{name}"
    path = ROOT / "var" / "bench" / f"{name}.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ["", "-wal", "-shm"]:
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def drop_database(db: str, name: str = "fanout") -> None:
    if db == "postgres":
        drop = f"DROP DATABASE IF EXISTS {_pg_name(name)} WITH (FORCE)"
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", drop], check=False)


class Sink:
    """An SMTP server that only counts: messages, arrival times, connections."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        from tests.servers import free_port

        self.count = 0
        self.first = self.last = 0.0
        self.sessions: set[int] = set()
        self._keep: list = []  # sessions stay referenced: their ids are not reused
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        now = time.time()
        if id(session) not in self.sessions:
            self.sessions.add(id(session))
            self._keep.append(session)
        if not self.count:
            self.first = now
        self.count += 1
        self.last = now
        return "250 OK"


def run_one(db: str, people: int, workers: int, timeout: float, recipients: str) -> dict:
    """One database, in this process (Django is set up for it here)."""
    sink = Sink()
    sink.controller.start()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(db),
        "SECRET_KEY": "bench-only-secret-key",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "testserver",
        "SITE_URL": "https://hcm.example",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(sink.port),
        "DJANGO_SETTINGS_MODULE": "hcm.settings",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import RefreshToken

    from jobs.models import BackgroundJob, WorkerHeartbeat
    from notifications.models import Delivery, Notification

    org, admin, ids = make_people(people, admins=recipients == "admins")

    log_dir = ROOT / "var" / "bench"
    log_dir.mkdir(parents=True, exist_ok=True)
    procs = []
    for i in range(workers):
        log = open(log_dir / f"fanout-worker-{db}-{i}.log", "wb")  # noqa: SIM115
        procs.append(
            subprocess.Popen(
                [sys.executable, str(ROOT / "manage.py"), "runworker"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    try:
        deadline = time.monotonic() + 60
        while WorkerHeartbeat.objects.filter(stopped_at__isnull=True).count() < workers:
            if time.monotonic() > deadline:
                raise RuntimeError(f"workers did not start; see {log_dir}/fanout-worker-{db}-*.log")
            time.sleep(0.1)
        time.sleep(1.0)  # past their start-up work: idle and listening

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(admin).access_token}")
        # Warm-up, as a running server would be: the same request to one person, fanned out.
        warm = client.post("/api/system/notification-events", {"event": "org_updated"}, format="json")
        assert warm.status_code in (201, 202), warm.content
        while not Notification.objects.filter(organization=org, type="org_updated").exists():
            time.sleep(0.05)
        load_before = os.getloadavg()
        event = {"event": "critical_alert", "data": {"summary": "Disk full on db-1"}}
        body = json.dumps(event if recipients == "admins" else {**event, "recipients": ids})
        start = time.perf_counter()
        response = client.generic("POST", "/api/system/notification-events", body, "application/json")
        returned = time.perf_counter()
        returned_wall = time.time()
        if response.status_code not in (201, 202):
            raise RuntimeError(f"POST answered {response.status_code}: {response.content[:500]!r}")

        expected = len(ids) + (1 if recipients == "admins" else 0)  # the bench's admin is one of the admins
        ready = None
        while time.perf_counter() - returned < timeout:
            # A cheap look first (the first row), the counts once there is one: counting
            # every 10 ms would take CPU from the fan-out it waits for (2 cores).
            if not Notification.objects.filter(organization=org, type="critical_alert").exists():
                time.sleep(0.01)
                continue
            notified = Notification.objects.filter(organization=org, type="critical_alert").count()
            queued = Delivery.objects.filter(
                organization=org, event="critical_alert", channel="email", job__isnull=False
            ).count()
            if notified >= expected and queued >= expected:
                ready = time.perf_counter() - returned
                break
            time.sleep(0.01)

        end = time.monotonic() + timeout
        while sink.count < expected and time.monotonic() < end:
            time.sleep(0.05)
        load_after = os.getloadavg()
        span = sink.last - sink.first
        job = BackgroundJob.objects.get(pk=response.json()["job_id"])
        return {
            "db": db,
            "people": people,
            "workers": workers,
            "status": response.status_code,
            "api_ms": (returned - start) * 1000,
            "fanout_s": ready,
            # The fan-out job: claimed this long after the call returned, and ran for this long.
            "job_pickup_s": job.started_at.timestamp() - returned_wall if job.started_at else None,
            "job_run_s": (job.completed_at - job.started_at).total_seconds()
            if job.completed_at and job.started_at
            else None,
            "emails": sink.count,
            "emails_per_s": (sink.count - 1) / span if sink.count > 1 and span > 0 else None,
            "all_emails_s": sink.last - returned_wall if sink.count else None,
            "connections": len(sink.sessions),
            "load_before": load_before,
            "load_after": load_after,
        }
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        sink.controller.stop()
        from django.db import connections

        connections.close_all()


SINK_TEXT = "Critical alert: Disk full on db-1\n\n" + "A line of the alert's text, as the template renders it.\n" * 20
SINK_HTML = (
    "<html><body><h1>Critical alert</h1>" + "<p>A paragraph of the alert, as rendered.</p>\n" * 60 + "</body></html>"
)


def _sink_message(i: int) -> bytes:
    from email.message import EmailMessage
    from email.policy import SMTP

    message = EmailMessage(policy=SMTP)  # CRLF line ends, as smtplib sends bytes unchanged
    message["From"], message["To"], message["Subject"] = "Bench HR <hr@bench.test>", f"person{i}@bench.test", "Alert"
    message["List-Unsubscribe"] = f"<https://hcm.example/unsubscribe/{'x' * 120}>"
    message.set_content(SINK_TEXT)
    message.add_alternative(SINK_HTML, subtype="html")
    return message.as_bytes()


def _send_share(port: int, start: int, count: int) -> None:
    """One sender thread: `count` messages over one connection."""
    import smtplib

    messages = [_sink_message(start + i) for i in range(count)]  # built before the clock matters
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for i, message in enumerate(messages):
            smtp.sendmail("hr@bench.test", [f"person{start + i}@bench.test"], message)


def _sender_process(port: int, start: int, count: int, threads: int) -> None:
    import threading

    share = count // threads
    workers = [
        threading.Thread(
            target=_send_share, args=(port, start + t * share, share if t < threads - 1 else count - t * share)
        )
        for t in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def run_sink_only(messages: int, processes: int, threads: int) -> dict:
    import multiprocessing

    sink = Sink()
    sink.controller.start()
    load_before = os.getloadavg()
    try:
        context = multiprocessing.get_context("spawn")
        share = messages // processes
        procs = [
            context.Process(
                target=_sender_process,
                args=(sink.port, p * share, share if p < processes - 1 else messages - p * share, threads),
            )
            for p in range(processes)
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
    finally:
        sink.controller.stop()
    span = sink.last - sink.first
    return {
        "messages": sink.count,
        "per_s": (sink.count - 1) / span if sink.count > 1 and span > 0 else None,
        "connections": len(sink.sessions),
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }


def mark(value: float | None, target: float, *, at_most: bool) -> str:
    if value is None:
        return "NOT met (did not finish)"
    ok = value <= target if at_most else value >= target
    return "met" if ok else "NOT met"


def table(results: list[dict]) -> str:
    lines = [
        "| database | API call | target ≤ 200 ms | fan-out done after return | target | emails/s at the sink "
        "(2 workers) | target ≥ 500/s | emails / SMTP connections | load avg before → after |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        fan_target = TARGET_FANOUT_S[r["db"]]
        fan = f"{r['fanout_s']:.2f} s" if r["fanout_s"] is not None else "—"
        if r.get("job_run_s") is not None:
            fan += f" (job picked up after {r['job_pickup_s'] * 1000:.0f} ms, ran {r['job_run_s']:.2f} s)"
        rate = f"{r['emails_per_s']:,.0f}/s" if r["emails_per_s"] else "—"
        before = " ".join(f"{x:.2f}" for x in r["load_before"])
        after = " ".join(f"{x:.2f}" for x in r["load_after"])
        lines.append(
            f"| {r['db']} ({r['people']:,} people) | {r['api_ms']:.0f} ms (HTTP {r['status']}) "
            f"| {mark(r['api_ms'], TARGET_API_MS, at_most=True)} | {fan} "
            f"| ≤ {fan_target:g} s: {mark(r['fanout_s'], fan_target, at_most=True)} | {rate} "
            f"| {mark(r['emails_per_s'], TARGET_EMAILS_PER_S, at_most=False)} "
            f"| {r['emails']:,} / {r['connections']} | {before} → {after} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=180.0, help="Give up waiting after this many seconds.")
    parser.add_argument(
        "--recipients",
        choices=["ids", "admins"],
        default="ids",
        help="ids: the request names the N people; admins: they are system admins and it names nobody.",
    )
    parser.add_argument("--sink-only", action="store_true", help="Measure the SMTP sink alone (no database).")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one database, print JSON
    args = parser.parse_args()
    if args.sink_only:
        r = run_sink_only(args.people, args.workers, threads=4)
        before = " ".join(f"{x:.2f}" for x in r["load_before"])
        after = " ".join(f"{x:.2f}" for x in r["load_after"])
        print("| sink alone: messages/s | messages / connections | target of the fan-out | load avg before → after |")
        print("| --- | --- | --- | --- |")
        rate = f"{r['per_s']:,.0f}/s" if r["per_s"] else "—"
        verdict = "possible" if (r["per_s"] or 0) >= TARGET_EMAILS_PER_S else "NOT possible here"
        print(
            f"| {rate} | {r['messages']:,} / {r['connections']} | ≥ {TARGET_EMAILS_PER_S:g}/s: {verdict} "
            f"| {before} → {after} |"
        )
        return 0
    if args.one:
        try:
            print(json.dumps(run_one(args.one, args.people, args.workers, args.timeout, args.recipients)))
        finally:
            drop_database(args.one)
        return 0
    results = []
    for db in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        # Each database in its own process: Django is set up once per process.
        out = subprocess.run(
            [sys.executable, __file__, "--one", db, "--people", str(args.people), "--workers", str(args.workers)]
            + ["--timeout", str(args.timeout), "--recipients", args.recipients],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            print(out.stderr[-3000:], file=sys.stderr)
            return 1
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
