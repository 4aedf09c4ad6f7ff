"""Make and INSERT many model instances fast (a fan-out's notifications and deliveries).

Django's bulk_create compiles every value of every row through the ORM; a fan-out's rows
share most of their values (the event's title, message, data, time), so each distinct
value object is converted once here. Rows go in one COPY on PostgreSQL (its
statement-level triggers, the notification stream's NOTIFY, run once) and in multi-row
INSERT statements on SQLite. instance_maker() builds the instances themselves without
Model.__init__, whose per-field defaults and descriptors cost more than the insert.
"""

import json
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.models import Model
from django.db.models.base import ModelState
from django.utils import timezone
from psycopg.adapt import PyFormat, Transformer
from psycopg.types.json import Jsonb  # what Django's PostgreSQL backend wraps JSON values in

M = TypeVar("M", bound=Model)

_EMPTY_KEYS: dict[type, str] = {list: "[]", dict: "{}"}


def instance_maker(model: type[M], /, **shared: Any) -> Callable[..., M]:
    """A function making new, unsaved `model` instances: `shared` values in every one, the
    call's keyword arguments in that one (foreign keys by field name, given as instances
    or None), every other field at its default (callable defaults called per instance).

    What Model(**values) gives, built as Model.from_db builds a read row (filling
    __dict__) without its per-field descriptor and default calls. No pre_init /
    post_init receivers run (none are connected to the models it is used for)."""
    meta = model._meta
    relations = {f.name: f.attname for f in meta.concrete_fields if f.is_relation}
    constant: dict[str, Any] = {}
    cached: dict[str, Any] = {}
    per_instance: list[tuple[str, Callable[[], Any]]] = []
    db = router.db_for_write(model)
    for f in meta.concrete_fields:
        if f.name in shared:
            value = shared[f.name]
            if f.is_relation:
                constant[f.attname] = None if value is None else value.pk
                cached[f.name] = value
            else:
                constant[f.attname] = value
        elif f.has_default() and callable(f.default):
            per_instance.append((f.attname, f.default))
        else:
            constant[f.attname] = f.get_default()

    shared_related = any(value is not None for value in cached.values())

    def make(**values: Any) -> M:
        obj = model.__new__(model)
        fields = obj.__dict__
        fields.update(constant)
        for attname, default in per_instance:
            if attname not in values:
                fields[attname] = default()
        cache = dict(cached)
        related = shared_related
        for name, value in values.items():
            if name in relations:
                fields[relations[name]] = None if value is None else value.pk
                cache[name] = value
                related = related or value is not None
            else:
                fields[name] = value
        state = obj._state = ModelState()
        state.fields_cache = cache
        if related:
            state.db = db  # as assigning a related instance sets it
        return obj

    return make


def bulk_insert(objs: Sequence[Model], *, batch_size: int = 500) -> None:
    """INSERT `objs` (instances of one model, with their primary keys set) as they are.
    auto_now / auto_now_add fields are set like save() would (one time for the call).
    Call inside a transaction when the rows must appear together."""
    if not objs:
        return
    # The wrapper itself, once: each attribute of django.db.connection (a proxy) is looked
    # up through a context-local on every access.
    connection = connections[DEFAULT_DB_ALIAS]
    meta = type(objs[0])._meta
    fields = [f for f in meta.concrete_fields if not f.generated]
    now = timezone.now()
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            for obj in objs:
                setattr(obj, f.attname, now)
    values = [obj.__dict__ for obj in objs]
    quote = connection.ops.quote_name
    table, names = quote(meta.db_table), ", ".join(quote(str(f.column)) for f in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY: one statement (its triggers run once), no SQL text to parse per row, and
            # written a chunk at a time: the server stores one while the next is converted.
            columns = _Columns(fields, connection, Transformer(connection.connection))
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for start in range(0, len(values), _COPY_CHUNK):
                    chunk = columns.convert(values[start : start + _COPY_CHUNK])
                    copy.write("".join("\t".join(row) + "\n" for row in chunk))
        else:
            rows = _Columns(fields, connection, None).convert(values)
            per_statement = max(1, min(batch_size, connection.ops.bulk_batch_size(fields, objs)))
            one = "(" + ", ".join(["%s"] * len(fields)) + ")"
            for start in range(0, len(rows), per_statement):
                batch = rows[start : start + per_statement]
                sql = f"INSERT INTO {table} ({names}) VALUES " + ", ".join([one] * len(batch))
                cursor.execute(sql, [v for row in batch for v in row])
    alias = connection.alias
    for obj in objs:
        obj._state.adding, obj._state.db = False, alias


def _key(value: Any) -> int | str:
    # Empty lists and dicts (a JSONField's default, one new object per row) are one value each.
    return id(value) if value or type(value) not in _EMPTY_KEYS else _EMPTY_KEYS[type(value)]


_COPY_CHUNK = 1000


class _Columns:
    """Rows converted column by column, each distinct value object of a column once (a
    fan-out's rows share most of theirs): to COPY text with a psycopg Transformer, else
    to what the database driver takes. The objects stay alive for the whole bulk_insert,
    so their ids are not reused meanwhile."""

    def __init__(self, fields: list[Any], connection: Any, tx: Any) -> None:
        self.fields, self.connection, self.tx = fields, connection, tx
        self.json = [f.get_internal_type() == "JSONField" for f in fields]
        self.memos: list[dict[int | str, Any]] = [{} for _ in fields]

    def convert(self, values: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        columns = []
        for field, json_field, memo in zip(self.fields, self.json, self.memos, strict=True):
            raw = [v[field.attname] for v in values]
            keys = [_key(v) for v in raw] if json_field else [id(v) for v in raw]
            distinct = dict(zip(keys, raw, strict=True))
            for key in distinct.keys() - memo.keys():
                prepared = field.get_db_prep_save(distinct[key], self.connection)
                memo[key] = prepared if self.tx is None else _copy_text(prepared, self.tx)
            columns.append([memo[key] for key in keys])
        return list(zip(*columns, strict=True))


# COPY's text format: these characters are written backslash-escaped (as psycopg does).
_COPY_SPECIAL = re.compile(r"[\\\b\t\n\v\f\r]")
_COPY_ESCAPES = {"\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f", "\r": "\\r"}


def _copy_text(value: Any, tx: Any) -> str:
    """A value as a field of COPY's text format: what psycopg's write_row writes for it."""
    if value is None:
        return "\\N"
    if type(value) is int:
        return str(value)
    if type(value) is Jsonb:  # the JSON text (COPY reads text into jsonb)
        dumped = (value.dumps or json.dumps)(value.obj)
        text = dumped.decode() if isinstance(dumped, bytes) else dumped
    elif type(value) is str:
        text = value
    else:
        text = bytes(tx.get_dumper(value, PyFormat.TEXT).dump(value)).decode()
    if _COPY_SPECIAL.search(text) is None:  # most values: one scan
        return text
    # str.replace per character present: str.translate looks up every character.
    for char, escaped in _COPY_ESCAPES.items():
        if char in text:
            text = text.replace(char, escaped)
    return text
