from django.db.backends.postgresql import base

from hcm.db_backends.pending import PendingWritesMixin


class DatabaseWrapper(PendingWritesMixin, base.DatabaseWrapper):
    pass
