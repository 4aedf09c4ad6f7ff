"""The `{"items", "total", "skip", "limit"}` page every list endpoint returns (seed 000),
plus `next` (a cursor for `?after=`) and `total_exact`.

Two costs grow with a table, and both are bounded here:
- `OFFSET n` reads and throws away n rows, so a deep `?skip=` is slow however good the
  index is. `?after=<cursor>` (the `next` of the previous page) resumes right after the
  last item instead: a keyset condition on the list's ordering, which the ordering's index
  answers in the time of one page at any depth. `skip` keeps working (and combines: it
  skips within what follows the cursor).
- An exact `COUNT(*)` visits every match. `total` is exact up to TOTAL_BOUND matches; past
  it, `total` is TOTAL_BOUND and `total_exact` is false ("at least this many").

A view may split its list into disjoint ranges, each one index range in the list's order
(`page_ranges(queryset)`, e.g. one per status when the index leads with the status but the
list shows every status): a page is then the merge of each range's first rows, in one
statement, instead of a sort of every match; and `total` counts along the same ranges.
"""

import base64
import binascii
import json
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connections
from django.db.models import Model, Q, QuerySet
from django.db.models.expressions import RawSQL
from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response

MAX_SKIP = 2**31 - 1  # any integer past this is a 400, not a database error
# Counting stops here: counting 10,000 index entries costs a few milliseconds, a million
# costs hundreds.
TOTAL_BOUND = 10_000
BAD_CURSOR = "Not a cursor this list returned: pass the `next` value of a previous page."


class SkipLimitSerializer(serializers.Serializer):
    skip = serializers.IntegerField(min_value=0, max_value=MAX_SKIP, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)
    after = serializers.CharField(required=False, max_length=1000, allow_blank=True)


def list_ordering(queryset: QuerySet) -> list[tuple[str, bool]]:
    """(field name, descending) for each term of the queryset's ordering, ending with the
    primary key so that the order is total (a cursor never skips or repeats a tie)."""
    terms = list(queryset.query.order_by or queryset.model._meta.ordering)
    if not all(isinstance(term, str) for term in terms):
        raise TypeError("SkipLimitPagination needs an ordering of plain field names.")
    pk_name = queryset.model._meta.pk.name
    ordering = [(term.lstrip("-"), term.startswith("-")) for term in terms]
    ordering = [("pk" if name == pk_name else name, desc) for name, desc in ordering]
    if not any(name == "pk" for name, _ in ordering):
        ordering.append(("pk", ordering[-1][1] if ordering else False))
    return ordering


def encode_cursor(item: Model, ordering: list[tuple[str, bool]]) -> str:
    values = []
    for name, _ in ordering:
        value = getattr(item, name)
        values.append(value.isoformat() if hasattr(value, "isoformat") else value)
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, ordering: list[tuple[str, bool]], model: type[Model]) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(ordering):
            raise ValueError
        fields: list[Any] = [model._meta.pk if name == "pk" else model._meta.get_field(name) for name, _ in ordering]
        parsed = [field.to_python(value) for field, value in zip(fields, values, strict=True)]
    except (ValueError, TypeError, binascii.Error, DjangoValidationError, UnicodeDecodeError):
        raise serializers.ValidationError({"after": [BAD_CURSOR]}) from None
    if any(value is None for value in parsed):
        raise serializers.ValidationError({"after": [BAD_CURSOR]})
    return parsed


def after_condition(ordering: list[tuple[str, bool]], values: list[Any]) -> Q:
    """Rows strictly after `values` in `ordering`, written as `f1 <= v1 AND (f1 < v1 OR
    (f1 = v1 AND …))`: the leading non-strict range lets the database start the ordering's
    index scan at the cursor instead of filtering from the top."""

    def after(i: int) -> Q:
        name, desc = ordering[i]
        strictly = Q(**{f"{name}__{'lt' if desc else 'gt'}": values[i]})
        if i == len(ordering) - 1:
            return strictly
        return strictly | (Q(**{name: values[i]}) & after(i + 1))

    name, desc = ordering[0]
    return Q(**{f"{name}__{'lte' if desc else 'gte'}": values[0]}) & after(0)


def merged_rows(ranges: list[QuerySet], ordering: list[tuple[str, bool]], *, skip: int, count: int) -> list[Model]:
    """Rows [skip, skip + count) of the union of `ranges` (disjoint querysets of one model,
    each ordered by `ordering`). The keys of each range's first skip + count rows (the
    start of its index range, read from the index alone) are merged and cut by the
    database, and the page's rows read by primary key: one statement."""
    if len(ranges) == 1:
        return list(ranges[0][skip : skip + count])
    parts: list[str] = []
    params: list[Any] = []
    for i, part in enumerate(ranges):
        sql, part_params = part.values_list(*[name for name, _ in ordering])[: skip + count].query.sql_with_params()
        parts.append(f"SELECT * FROM ({sql}) AS range_{i}")
        params.extend(part_params)
    order_by = ", ".join(f"{i} {'DESC' if desc else 'ASC'}" for i, (_, desc) in enumerate(ordering, start=1))
    pk = connections[ranges[0].db].ops.quote_name("pk")  # values_list's name for the key
    merged = f"{' UNION ALL '.join(parts)} ORDER BY {order_by} LIMIT {int(count)} OFFSET {int(skip)}"
    page = f"SELECT {pk} FROM ({merged}) AS page"
    rows = ranges[0].model._default_manager.db_manager(ranges[0].db).filter(pk__in=RawSQL(page, params))
    return list(rows.order_by(*[f"-{name}" if desc else name for name, desc in ordering]))


def merged_count(ranges: list[QuerySet], *, bound: int) -> int:
    """How many rows the union of `ranges` holds, counted up to `bound`, in one statement
    that reads at most `bound` index entries in all. Each range keeps the list's ORDER BY:
    the database then counts along the index that serves its page (a covering range of
    the filters' prefix) instead of one that merely looks selective (the claim's partial
    index, for queued jobs)."""
    if len(ranges) == 1:
        return ranges[0][:bound].count()
    parts: list[str] = []
    params: list[Any] = []
    for i, part in enumerate(ranges):
        sql, part_params = part.values_list("pk")[:bound].query.sql_with_params()
        parts.append(f"SELECT 1 AS one FROM ({sql}) AS range_{i}")
        params.extend(part_params)
    sql = f"SELECT COUNT(*) FROM ({' UNION ALL '.join(parts)} LIMIT {int(bound)}) AS counted"
    with connections[ranges[0].db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


class SkipLimitPagination(BasePagination):
    """`?skip=&limit=&after=` (bad values: 400 naming the parameter)."""

    total_bound = TOTAL_BOUND

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: Any = None) -> list:  # type: ignore[override]
        params = SkipLimitSerializer(
            data={k: request.query_params[k] for k in ("skip", "limit", "after") if k in request.query_params}
        )
        params.is_valid(raise_exception=True)
        self.skip, self.limit = params.validated_data["skip"], params.validated_data["limit"]
        ordering = list_ordering(queryset)
        queryset = queryset.order_by(*[f"-{name}" if desc else name for name, desc in ordering])
        ranges = view.page_ranges(queryset) if hasattr(view, "page_ranges") else [queryset]

        # One row past the bound tells "exactly the bound" from "more than the bound".
        counted = merged_count(ranges, bound=self.total_bound + 1)
        self.total_exact = counted <= self.total_bound
        self.total = min(counted, self.total_bound)

        if params.validated_data.get("after"):
            values = decode_cursor(params.validated_data["after"], ordering, queryset.model)
            ranges = [part.filter(after_condition(ordering, values)) for part in ranges]
        # One row more than the page says whether a next page exists.
        rows = merged_rows(ranges, ordering, skip=self.skip, count=self.limit + 1)
        page = rows[: self.limit]
        self.next = encode_cursor(page[-1], ordering) if len(rows) > self.limit else None
        return page

    def get_paginated_response(self, data: list) -> Response:
        return Response(
            {
                "items": data,
                "total": self.total,
                "total_exact": self.total_exact,
                "skip": self.skip,
                "limit": self.limit,
                "next": self.next,
            }
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["items", "total", "total_exact", "skip", "limit", "next"],
            "properties": {
                "items": schema,
                "total": {
                    "type": "integer",
                    "description": f"Matching items in all pages, counted up to {TOTAL_BOUND:,}: when "
                    f"`total_exact` is false there are more than {TOTAL_BOUND:,} and `total` is {TOTAL_BOUND:,}.",
                },
                "total_exact": {"type": "boolean", "description": "Whether `total` is the exact count."},
                "skip": {"type": "integer"},
                "limit": {"type": "integer"},
                "next": {
                    "type": "string",
                    "nullable": True,
                    "description": "Pass as `?after=` (with the same filters) for the next page; "
                    "null on the last page.",
                },
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict]:
        fields: dict[str, Any] = dict(SkipLimitSerializer().fields)  # bounds of skip/limit, length of after
        integers = [
            {
                "name": name,
                "required": False,
                "in": "query",
                "description": description,
                "schema": {
                    "type": "integer",
                    "minimum": fields[name].min_value,
                    "maximum": fields[name].max_value,
                    "default": fields[name].default,
                },
            }
            for name, description in (
                ("skip", "Items to skip (after the cursor, when `after` is given)."),
                ("limit", "Items per page."),
            )
        ]
        cursor = {
            "name": "after",
            "required": False,
            "in": "query",
            "description": "A page's `next`: start right after that page's last item. Fast at any depth, "
            "unlike a large `skip`.",
            "schema": {"type": "string", "maxLength": fields["after"].max_length},
        }
        return [*integers, cursor]
