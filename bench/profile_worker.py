"""Where a worker's time goes per job: runs our Worker in this process over N queued no-op
jobs and reports, per job, the claim and record calls (and their batch sizes), the SQL
statements and commits of the worker's main thread, and (with py-spy installed) where the
thread holding the GIL spends its time.

    .venv/bin/python bench/profile_worker.py [--db sqlite|postgres] [--jobs N] [--concurrency C]

For finding bottlenecks, not for the headline figures (bench/run.py measures those with
real `manage.py runworker` processes). Counting wraps the worker's calls; it changes no
behaviour, and costs a little time, so its jobs/s reads slightly low.
"""

import argparse
import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
WORK_DIR = PROJECT_DIR / "var" / "bench"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# BENCH_DB_SUFFIX: one database (and SQLite file) per engineer on a shared server, as bench/run.py.
_SUFFIX = f"_{os.environ['BENCH_DB_SUFFIX']}" if os.environ.get("BENCH_DB_SUFFIX") else ""
PG_DB = f"bench_profile{_SUFFIX}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--no-py-spy", action="store_true", help="Skip the sampling profile.")
    parser.add_argument(
        "--log-level",
        default="WARNING",
        help="LOG_LEVEL for the run (INFO: the default's cost; stderr gets the lines).",
    )
    parser.add_argument(
        "--no-analyze",
        action="store_true",
        help="PostgreSQL: skip ANALYZE after queueing (a burst before autovacuum has seen it).",
    )
    args = parser.parse_args()

    WORK_DIR.mkdir(parents=True, exist_ok=True)
    url = _create_database(args.db)
    os.environ.update(DATABASE_URL=url, SECRET_KEY="bench-only-not-secret", LOG_LEVEL=args.log_level)
    os.environ.setdefault("LOG_DIR", str(WORK_DIR / "log"))
    os.environ.pop("DEBUG", None)
    sys.path.insert(0, str(PROJECT_DIR))
    os.environ["DJANGO_SETTINGS_MODULE"] = "hcm.settings_worker"  # as manage.py runworker
    try:
        profile(args)
    finally:
        from django.db import connections

        connections.close_all()
        _drop_database(args.db)


def profile(args: argparse.Namespace) -> None:
    import django

    from hcm.worker_imports import prepare_worker_imports

    prepare_worker_imports()  # as manage.py runworker
    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    import jobs.worker as worker_module
    from hcm.models import Organization
    from jobs.services import job_enqueue

    call_command("migrate", verbosity=0, interactive=False)
    org = Organization.objects.create(slug="bench", name="Benchmark")
    for start in range(0, args.jobs, 1000):
        with transaction.atomic():
            for _ in range(min(1000, args.jobs - start)):
                job_enqueue(organization=org, job_type="noop")
    if connection.vendor == "postgresql" and not args.no_analyze:
        with connection.cursor() as cursor:  # as bench/run.py: statistics as autovacuum keeps them
            cursor.execute("ANALYZE background_jobs")
    connection.close()

    calls: dict[str, list[int]] = collections.defaultdict(list)

    def counted(name, func, size):
        def wrapper(*a, **kw):
            out = func(*a, **kw)
            calls[name].append(size(a, kw, out))
            return out

        return wrapper

    worker_module.claim_jobs = counted("claim", worker_module.claim_jobs, lambda a, kw, out: len(out))
    worker_module.record_attempts = counted("record", worker_module.record_attempts, lambda a, kw, out: len(a[0]))

    statements: collections.Counter[str] = collections.Counter()
    spent: collections.Counter[str] = collections.Counter()  # seconds, by statement kind

    def count_sql(execute, sql, params, many, context):
        kind = _kind(sql)
        statements[kind] += 1
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent[kind] += time.perf_counter() - t0

    worker = worker_module.Worker(concurrency=args.concurrency, burst=True, poll_interval=0.05)
    connection.ensure_connection()
    real_commit = connection.commit

    def commit():
        statements["COMMIT"] += 1
        t0 = time.perf_counter()
        try:
            return real_commit()
        finally:
            spent["COMMIT"] += time.perf_counter() - t0

    connection.commit = commit  # type: ignore[method-assign]  # this thread's DatabaseWrapper: the worker's main loop

    spy = _start_py_spy() if not args.no_py_spy else None
    t0, cpu0 = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(count_sql):
        worker.run()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    raw = _stop_py_spy(spy)

    n = args.jobs
    print(
        f"{connection.vendor}: {n:,} no-op jobs, concurrency {args.concurrency}, burst run: {seconds:.2f} s, "
        f"{n / seconds:,.0f} jobs/s (startup and burst exit included; counting overhead included)"
    )
    # CPU time of this process (every thread; SQLite's work too): on a busy machine the
    # wall clock reads other processes' load, this much less so. Compare runs with it.
    print(f"  CPU: {cpu / n * 1000:.3f} ms per job ({n / cpu:,.0f} jobs per CPU-second)")
    for name in ("claim", "record"):
        sizes = calls[name]
        nonempty = [s for s in sizes if s]
        print(
            f"  {name}: {len(sizes):,} calls ({len(sizes) / n:.2f} per job), {len(nonempty):,} non-empty, "
            f"mean batch {sum(nonempty) / max(1, len(nonempty)):.2f} jobs, "
            f"sizes {dict(sorted(collections.Counter(nonempty).items()))}"
        )
    print("  the main thread's database calls (statements, and commits):")
    for kind, count in statements.most_common():
        print(
            f"    {kind:34s} {count / n:5.2f} per job, {spent[kind] / count * 1000:6.3f} ms each, "
            f"{spent[kind] / n * 1000:6.3f} ms per job"
        )
    db_ms = sum(spent.values()) / n * 1000
    print(
        f"    {'total':34s} {sum(statements.values()) / n:5.2f} per job, {db_ms:.3f} ms per job "
        f"of {seconds / n * 1000:.3f} ms per job overall"
    )
    if raw:
        _summarize(raw)


def _kind(sql: str) -> str:
    """A statement's kind, e.g. "UPDATE background_jobs", for grouping."""
    words = sql.split()
    if not words:
        return "?"
    verb = words[0].upper()
    table = ""
    for i, w in enumerate(words[:-1]):
        if w.upper() in ("FROM", "INTO", "UPDATE") and (verb != "UPDATE" or w.upper() == "UPDATE"):
            table = words[i + 1].strip('"')
            break
    if verb == "SELECT" and "background_jobs" in sql and "LIMIT 1" in sql.upper() and "1 FROM" in sql:
        table += " (due?)"
    if verb == "UPDATE" and ("(VALUES" in sql or "unnest(" in sql):
        table += " (complete)"
    elif verb == "UPDATE" and "RETURNING" in sql.upper():
        table += " (claim)"
    return f"{verb} {table}".strip()


def _start_py_spy() -> subprocess.Popen | None:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        print("(py-spy not installed: no sampling profile; `pip install py-spy` for one)")
        return None
    out = tempfile.NamedTemporaryFile(suffix=".txt", delete=False)  # noqa: SIM115 - read after py-spy exits
    proc = subprocess.Popen(
        [py_spy, "record", "--gil", "-r", "250", "--format", "raw", "-o", out.name, "--pid", str(os.getpid())],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proc.out_path = out.name  # type: ignore[attr-defined]
    time.sleep(1.0)  # let it attach
    return proc


def _stop_py_spy(proc: subprocess.Popen | None) -> str:
    if proc is None:
        return ""
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    path = Path(proc.out_path)  # type: ignore[attr-defined]
    text = path.read_text() if path.exists() else ""
    path.unlink(missing_ok=True)
    return text


def _summarize(raw: str, top: int = 30) -> None:
    """Inclusive share of GIL-holding samples per function, within the worker's run."""
    total = 0
    inclusive: collections.Counter[str] = collections.Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if "Worker.run" not in stack and "_thread_main" not in stack:
            continue  # seeding, setup, py-spy's own attach
        n = int(count)
        total += n
        seen = set()
        for frame in stack.split(";"):
            name, _, where = frame.partition(" (")
            key = f"{name} ({where.split(':')[0].rsplit('/', 1)[-1]}" if where else name
            if key not in seen:
                seen.add(key)
                inclusive[key] += n
    if not total:
        return
    print(f"  py-spy --gil: {total:,} samples while a worker thread held the GIL; inclusive share:")
    shown = 0
    for key, n in inclusive.most_common():
        if any(skip in key for skip in ("Thread._bootstrap", "Thread.run", "Worker.run", "Worker._loop")):
            continue
        print(f"    {n / total:6.1%}  {key})")
        shown += 1
        if shown >= top:
            break


def _create_database(db: str) -> str:
    if db == "sqlite":
        path = WORK_DIR / f"profile{_SUFFIX}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    return f"postgres://postgres@127.0.0.1:5432/{PG_DB}"


def _drop_database(db: str) -> None:
    if db == "postgres":
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


if __name__ == "__main__":
    main()
