"""cache_flush: clear this service's keys in Django's default cache — one organization's
(its key namespace, hcm.cache.org_cache_key) or, service-wide, every key under the cache's
KEY_PREFIX — or only the keys under a prefix within that. Never a whole Redis database it
may share with others, and never the rate-limit counters (their own cache alias)."""

import re
import time

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.redis import RedisCache
from django.db import connections, router, transaction
from rest_framework import serializers

from hcm.cache import org_cache_key
from jobs.context import JobContext
from jobs.errors import PermanentJobError
from jobs.payload_fields import StrictCharField
from jobs.registry import job_handler

_REDIS_DELETE_BATCH = 500


class CacheFlushPayload(serializers.Serializer):
    action = serializers.ChoiceField(choices=["full", "partial"])
    prefix = StrictCharField(
        required=False, max_length=200, trim_whitespace=False, help_text="Required when action is partial."
    )

    def validate(self, attrs: dict) -> dict:
        if attrs["action"] == "partial" and not attrs.get("prefix"):
            raise serializers.ValidationError({"prefix": ["Required when action is partial."]})
        if attrs["action"] == "full" and "prefix" in attrs:
            raise serializers.ValidationError({"prefix": ["Only used when action is partial."]})
        return attrs


@job_handler(
    "cache_flush", scope=("organization", "service"), payload=CacheFlushPayload, timeout=120, priority="medium"
)
def cache_flush(ctx: JobContext) -> dict:
    """Clear the default cache, or the keys starting with `prefix`.

    `items_cleared` is the number of entries the store removed (database cache: rows
    deleted, expired ones not yet culled included; Redis: keys deleted). For a backend
    that cannot count (memcached, local memory, files) it is null and `note` says why.
    A partial flush covers keys of the cache's current VERSION, the ones cache.get() sees.
    """
    started = time.perf_counter()
    cache = caches["default"]
    action = ctx.payload["action"]
    org_id = ctx.job.organization_id
    # An organization's keys live under its namespace: its "full" flush is a prefix flush.
    namespace = org_cache_key(org_id, "") if org_id else ""
    prefix = namespace + (ctx.payload["prefix"] if action == "partial" else "")
    stored_prefix = _stored_prefix(cache, prefix) if prefix else None
    result: dict = {"action": action, "scope": "organization" if org_id else "service"}
    if action == "partial":
        result["prefix"] = ctx.payload["prefix"]
    if isinstance(cache, DatabaseCache):
        result["items_cleared"] = _flush_database_cache(cache, stored_prefix)
    elif isinstance(cache, RedisCache):
        result["items_cleared"] = _flush_redis(cache, stored_prefix)
    elif stored_prefix is None:
        cache.clear()
        result["items_cleared"] = None
        result["note"] = f"{_backend_name(cache)} cannot count its entries."
    else:
        raise PermanentJobError(
            f"{_backend_name(cache)} cannot list its keys, so it cannot flush a prefix; use action 'full'."
        )
    result["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _stored_prefix(cache: BaseCache, prefix: str) -> str:
    """The stored form of keys starting with `prefix` (default key function: `:<version>:<prefix>`).

    A custom KEY_FUNCTION may hash keys, and then keys under a prefix have no common
    stored prefix: such a cache cannot be flushed partially.
    """
    stored = cache.make_key(prefix)
    if all(cache.make_key(prefix + probe) == stored + probe for probe in ("a", "/0")):
        return stored
    raise PermanentJobError(
        "The cache's KEY_FUNCTION does not keep keys under a prefix together, so a partial flush is impossible."
    )


def _flush_database_cache(cache: DatabaseCache, stored_prefix: str | None) -> int:
    db = router.db_for_write(cache.cache_model_class)
    connection = connections[db]
    table = connection.ops.quote_name(cache._table)  # type: ignore[attr-defined]  # set by DatabaseCache.__init__
    with transaction.atomic(using=db), connection.cursor() as cursor:
        if stored_prefix is None:
            cursor.execute(f"DELETE FROM {table}")
        else:
            # substr() compares exactly on SQLite and PostgreSQL alike; SQLite's LIKE ignores case.
            cursor.execute(
                f"DELETE FROM {table} WHERE substr(cache_key, 1, %s) = %s", [len(stored_prefix), stored_prefix]
            )
        return cursor.rowcount


def _flush_redis(cache: RedisCache, stored_prefix: str | None) -> int:
    # Writes go to the first server (the primary); so do the deletes.
    client = cache._cache.get_client(None, write=True)
    if stored_prefix is None:
        # Every key of this service, whatever its version: "<KEY_PREFIX>:*". Without a
        # KEY_PREFIX our keys cannot be told from other programs' in a shared database.
        if not cache.key_prefix:
            raise PermanentJobError(
                "The Redis cache has no KEY_PREFIX, so this service's keys cannot be told from others' "
                "in a shared database; set CACHE_KEY_PREFIX (a full flush never runs FLUSHDB)."
            )
        stored_prefix = f"{cache.key_prefix}:"
    pattern = _glob_escape(stored_prefix) + "*"
    cleared, batch = 0, []
    for key in client.scan_iter(match=pattern, count=1000):
        batch.append(key)
        if len(batch) >= _REDIS_DELETE_BATCH:
            cleared += client.delete(*batch)
            batch = []
    if batch:
        cleared += client.delete(*batch)
    return cleared


def _glob_escape(text: str) -> str:
    return re.sub(r"([\\*?\[\]])", r"\\\1", text)


def _backend_name(cache: BaseCache) -> str:
    return f"{type(cache).__module__}.{type(cache).__qualname__}"
