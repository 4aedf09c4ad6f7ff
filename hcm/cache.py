"""Django's database cache with an atomic incr(), so rate-limit counters kept in it hold
when several web processes count at once (the stock incr() is get-then-set)."""

import base64
import pickle

from django.core.cache.backends.db import DatabaseCache
from django.db import connections, router, transaction


class AtomicDatabaseCache(DatabaseCache):
    def incr(self, key, delta=1, version=None):
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        table = connection.ops.quote_name(self._table)
        cache_key = self.make_and_validate_key(key, version=version)
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        # SQLite runs this transaction IMMEDIATE (one writer); PostgreSQL locks the row.
        with transaction.atomic(using=db), connection.cursor() as cursor:
            cursor.execute(f"SELECT value FROM {table} WHERE cache_key = %s{lock}", [cache_key])
            row = cursor.fetchone()
            value = self.get(key, self._missing_key, version=version) if row else self._missing_key
            if value is self._missing_key:
                raise ValueError(f"Key '{key}' not found")
            new_value = value + delta
            encoded = base64.b64encode(pickle.dumps(new_value, self.pickle_protocol)).decode("latin1")
            cursor.execute(f"UPDATE {table} SET value = %s WHERE cache_key = %s", [encoded, cache_key])
        return new_value


def org_cache_key(organization_id: str, key: str) -> str:
    """The key under which an organization's data is cached: its own namespace, so an
    organization's cache_flush removes its keys and nobody else's."""
    return f"org:{organization_id}:{key}"
