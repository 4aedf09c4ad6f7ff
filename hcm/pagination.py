"""The `{"items", "total", "skip", "limit"}` page every list endpoint returns (seed 000)."""

from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response

MAX_SKIP = 2**31 - 1  # any integer past this is a 400, not a database error


class SkipLimitSerializer(serializers.Serializer):
    skip = serializers.IntegerField(min_value=0, max_value=MAX_SKIP, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)


class SkipLimitPagination(BasePagination):
    """`?skip=&limit=` (bad values: 400 naming the parameter); `total` counts every match."""

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: Any = None) -> list:  # type: ignore[override]
        params = SkipLimitSerializer(
            data={k: request.query_params[k] for k in ("skip", "limit") if k in request.query_params}
        )
        params.is_valid(raise_exception=True)
        self.skip, self.limit = params.validated_data["skip"], params.validated_data["limit"]
        self.total = queryset.count()
        return list(queryset[self.skip : self.skip + self.limit])

    def get_paginated_response(self, data: list) -> Response:
        return Response({"items": data, "total": self.total, "skip": self.skip, "limit": self.limit})

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["items", "total", "skip", "limit"],
            "properties": {
                "items": schema,
                "total": {"type": "integer", "description": "Matching items in all pages."},
                "skip": {"type": "integer"},
                "limit": {"type": "integer"},
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict]:
        fields: dict[str, Any] = dict(SkipLimitSerializer().fields)  # IntegerFields with bounds
        return [
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
            for name, description in (("skip", "Items to skip."), ("limit", "Items per page."))
        ]
