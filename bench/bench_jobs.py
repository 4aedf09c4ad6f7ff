"""A bench-only job type for ours, loaded with JOBS_HANDLER_MODULES=bench_jobs (and bench/
on PYTHONPATH): `bench_record` does nothing but append `<job id> <attempt> <pid>` to the
file BENCH_RECORD_PATH names, one O_APPEND write per run, so the many-workers scenario
can prove from the handler's side, not the worker's bookkeeping, that each job ran once."""

import os

from jobs.context import JobContext
from jobs.registry import job_handler


@job_handler("bench_record", scope="internal", timeout=10)
def bench_record(ctx: JobContext) -> dict:
    line = f"{ctx.job.id} {ctx.job.attempt} {os.getpid()}\n"
    fd = os.open(os.environ["BENCH_RECORD_PATH"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    return {}
