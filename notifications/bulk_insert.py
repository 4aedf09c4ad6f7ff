"""INSERT many model instances fast (a fan-out's notifications and deliveries).

Django's bulk_create compiles every value of every row through the ORM; a fan-out's rows
share most of their values (the event's title, message, data, time), so each distinct
value object is converted once here. Rows go in one COPY on PostgreSQL (its
statement-level triggers, the notification stream's NOTIFY, run once) and in multi-row
INSERT statements on SQLite.
"""

from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

_EMPTY_KEYS: dict[type, str] = {list: "[]", dict: "{}"}


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
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            for obj in objs:
                f.pre_save(obj, add=True)
    # One converted value per distinct value object and field (ids stay valid: the
    # instances hold the objects for the whole call).
    converted: list[dict[int | str, Any]] = [{} for _ in fields]
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
                memo[key] = (value, prepared)  # keeps `value` alive, so its id is not reused
                row.append(prepared)
        rows.append(row)
    quote = connection.ops.quote_name
    table, columns = quote(meta.db_table), ", ".join(quote(str(f.column)) for f in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
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
