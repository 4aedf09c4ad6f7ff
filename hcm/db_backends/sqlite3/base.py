from django.db.backends.sqlite3 import base

from hcm.db_backends.pending import PendingWritesMixin


class DatabaseWrapper(PendingWritesMixin, base.DatabaseWrapper):
    pass
