"""Make and INSERT many model instances fast (a fan-out's notifications and deliveries).

Django's bulk_create compiles every value of every row through the ORM; a fan-out's rows
share most of their values (the event's title, message, data, time), so each distinct
value object is converted once here. Rows go in one COPY on PostgreSQL (its
statement-level triggers, the notification stream's NOTIFY, run once) and in multi-row
INSERT statements on SQLite. instance_maker() builds the instances themselves without
Model.__init__, whose per-field defaults and descriptors cost more than the insert.
"""

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.models import Model
from django.db.models.base import ModelState
from django.utils import timezone
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

    def make(**values: Any) -> M:
        obj = model.__new__(model)
        fields = obj.__dict__
        fields.update(constant)
        for attname, default in per_instance:
            if attname not in values:
                fields[attname] = default()
        cache = dict(cached)
        for name, value in values.items():
            if name in relations:
                fields[relations[name]] = None if value is None else value.pk
                cache[name] = value
            else:
                fields[name] = value
        state = obj._state = ModelState()
        state.fields_cache = cache
        if any(value is not None for value in cache.values()):
            state.db = db  # as assigning a related instance sets it
        return obj

    return make


def bulk_insert(objs: Sequence[Model], *, batch_size: int = 500) -> None:
    """INSERT `objs` (instances of one model, with their primary keys set) as they are.
    auto_now / auto_now_add fields are set like save() would. Call inside a transaction
    when the rows must appear together."""
    if not objs:
        return
    # The wrapper itself, once: each attribute of django.db.connection (a proxy) is looked
    # up through a context-local on every access, and this loop makes ~10 per row.
    connection = connections[DEFAULT_DB_ALIAS]
    meta = type(objs[0])._meta
    fields = [f for f in meta.concrete_fields if not f.generated]
    # auto_now / auto_now_add: one time for the rows of one call (one converted value).
    now = timezone.now()
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            for obj in objs:
                setattr(obj, f.attname, now)
    # One converted value per distinct value object and field (ids stay valid: the
    # instances hold the objects for the whole call).
    converted: list[dict[int | str, Any]] = [{} for _ in fields]
    copying = connection.vendor == "postgresql"
    attnames = [f.attname for f in fields]
    rows: list[list[Any]] = []
    for obj in objs:
        values = obj.__dict__
        row = []
        for i, field in enumerate(fields):
            value = values[attnames[i]]
            memo = converted[i]
            # Empty lists and dicts (a JSONField's default, one new object per row) are
            # one value each.
            key = id(value) if value or type(value) not in _EMPTY_KEYS else _EMPTY_KEYS[type(value)]
            if key in memo:
                row.append(memo[key][1])
            else:
                prepared = field.get_db_prep_save(value, connection)
                if copying and type(prepared) is Jsonb:
                    # Its JSON text once (COPY reads text into jsonb): psycopg would
                    # serialize the wrapped value again for every row that shares it.
                    prepared = (prepared.dumps or json.dumps)(prepared.obj)
                memo[key] = (value, prepared)  # keeps `value` alive, so its id is not reused
                row.append(prepared)
        rows.append(row)
    quote = connection.ops.quote_name
    table, columns = quote(meta.db_table), ", ".join(quote(str(f.column)) for f in fields)
    with connection.cursor() as cursor:
        if copying:
            # COPY: one statement (its triggers run once), and no SQL text to parse per row.
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            per_statement = max(1, min(batch_size, connection.ops.bulk_batch_size(fields, objs)))
            one = "(" + ", ".join(["%s"] * len(fields)) + ")"
            for start in range(0, len(rows), per_statement):
                batch = rows[start : start + per_statement]
                sql = f"INSERT INTO {table} ({columns}) VALUES " + ", ".join([one] * len(batch))
                cursor.execute(sql, [v for row in batch for v in row])
    alias = connection.alias
    for obj in objs:
        obj._state.adding, obj._state.db = False, alias
