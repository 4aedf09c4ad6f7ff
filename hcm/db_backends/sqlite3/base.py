from typing import Any

from django.conf import settings
from django.db.backends.sqlite3 import base

from hcm.db_backends.pending import PendingWritesMixin
from hcm.db_backends.sqlite3 import checkpointer
from hcm.db_backends.sqlite3.operations import DatabaseOperations


class DatabaseWrapper(PendingWritesMixin, base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        conn = super().get_new_connection(conn_params)
        name = str(self.settings_dict["NAME"])
        pages = getattr(settings, "SQLITE_WAL_AUTOCHECKPOINT", 0)  # 0: no checkpoints but by hand
        if getattr(settings, "SQLITE_CHECKPOINT_THREAD", False) and pages > 0 and not self.is_in_memory_db():
            # Checkpoints off the commit path (checkpointer.py); SQLite's own only as a fallback.
            conn.execute(f"PRAGMA wal_autocheckpoint={checkpointer.fallback_pages(pages)}")
            checkpointer.ensure_running(name, restart_pages=pages)
        return conn
