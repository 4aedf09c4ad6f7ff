"""Database connections for processes that are not web servers."""

from django.db import connections

# How long a worker thread keeps its connection before opening a fresh one (seconds).
WORKER_CONN_MAX_AGE = 60


def use_connection_per_thread() -> None:
    """Give each thread of this process its own persistent connection instead of the pool.

    For `runworker`: its threads live as long as the process and each uses one connection at
    a time, so the count is bounded by the threads (README, "Connections"), and a job does
    not pay for a pool checkout per query batch or wait behind a pool sized for a web
    process. Call it before the process opens any connection.
    """
    for alias in connections:
        settings_dict = connections.settings[alias]
        had_pool = settings_dict.get("OPTIONS", {}).pop("pool", None)
        if had_pool or not settings_dict.get("CONN_MAX_AGE"):
            settings_dict["CONN_MAX_AGE"] = WORKER_CONN_MAX_AGE
