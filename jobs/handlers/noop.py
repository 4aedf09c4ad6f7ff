from jobs.context import JobContext
from jobs.registry import job_handler


@job_handler("noop", scope="internal", timeout=10)
def noop(ctx: JobContext) -> dict:
    """Does nothing; for benchmarks and checking that workers are taking jobs."""
    return {}
