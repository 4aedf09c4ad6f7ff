"""Filters of GET /api/notifications."""

import django_filters
from django.db.models import QuerySet

from hcm.filters import StrictBooleanFilter
from notifications.models import Notification


class NotificationFilter(django_filters.FilterSet):
    unread_only = StrictBooleanFilter(method="filter_unread_only", help_text="true: unread ones only.")
    type = django_filters.CharFilter(max_length=100, help_text="Only this notification type.")

    class Meta:
        model = Notification
        fields = ["unread_only", "type"]

    def filter_unread_only(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        return queryset.filter(read_at__isnull=True) if value else queryset
