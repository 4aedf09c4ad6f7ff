"""The `{"items", "total", "skip", "limit"}` list shape every list endpoint returns."""

from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers

# Bounded so a huge `skip` is a 400, not an OFFSET the database cannot take (a 500).
SKIP_MAX = 2**31 - 1


class SkipLimitSerializer(serializers.Serializer):
    skip = serializers.IntegerField(min_value=0, max_value=SKIP_MAX, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)


def paginate(queryset: QuerySet, query_params: Any, serializer_class: type) -> dict:
    params = SkipLimitSerializer(data={k: query_params[k] for k in ("skip", "limit") if k in query_params})
    params.is_valid(raise_exception=True)
    skip, limit = params.validated_data["skip"], params.validated_data["limit"]
    total = queryset.count()
    items = serializer_class(queryset[skip : skip + limit], many=True).data
    return {"items": items, "total": total, "skip": skip, "limit": limit}
