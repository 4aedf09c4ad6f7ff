"""Writes a transaction holds back until its COMMIT, or until its next statement.

Django runs callbacks after a commit (`on_commit`) but has no hook before one. This adds it
to the database backends (settings.DATABASES' ENGINE is hcm.db_backends.sqlite3 or
.postgresql): code that buffers rows inside a transaction (jobs/task_buffer.py: the Tasks
API's `.enqueue()` calls) registers a PendingWrites on the connection, and

- COMMIT writes them first, in the transaction (if that fails, the commit fails and
  atomic() rolls back);
- a SAVEPOINT writes them first, so whatever is pending was buffered after every existing
  savepoint, and
- ROLLBACK TO SAVEPOINT (to any of them) therefore discards all of it, as a rollback does;
- closing the connection discards it (the database rolls the transaction back).

Before any other statement on the connection the buffer writes itself (an execute wrapper
it installs while it holds rows), so a query in the same transaction sees the rows.
"""

from typing import Any, Protocol


class PendingWrites(Protocol):
    def flush(self) -> None:
        """Write what is held (and unregister)."""

    def discard(self) -> None:
        """Drop what is held (and unregister)."""


class PendingWritesMixin:
    """Mixed into a DatabaseWrapper, ahead of Django's."""

    pending_writes: list[PendingWrites]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pending_writes = []

    def flush_pending_writes(self) -> None:
        for pending in list(self.pending_writes):
            pending.flush()

    def discard_pending_writes(self) -> None:
        for pending in list(self.pending_writes):
            pending.discard()

    def _commit(self) -> Any:
        self.flush_pending_writes()
        return super()._commit()  # type: ignore[misc]

    def _rollback(self) -> Any:
        self.discard_pending_writes()
        return super()._rollback()  # type: ignore[misc]

    def _savepoint(self, sid: str) -> None:
        self.flush_pending_writes()
        super()._savepoint(sid)  # type: ignore[misc]

    def _savepoint_rollback(self, sid: str) -> None:
        self.discard_pending_writes()
        super()._savepoint_rollback(sid)  # type: ignore[misc]

    def close(self) -> None:
        self.discard_pending_writes()
        super().close()  # type: ignore[misc]
