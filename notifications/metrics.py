"""Notification figures for /metrics (collected by hcm/metrics.py at each scrape).

Deliveries waiting (queued, deferred) are a gauge from the status index; deliveries that
ended (sent, failed) and notifications created are counters advanced from indexed time
columns since the last scrape, so a scrape never counts the whole history.
"""

from collections.abc import Iterator
from datetime import datetime

from django.conf import settings
from django.db.models import Count
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from hcm.metrics import DatabaseCollector, Increment, Labels, Tally, counters
from notifications.models import Delivery, DeliveryStatus, Notification

DELIVERIES_ENDED = "notifications.deliveries_ended"
NOTIFICATIONS_CREATED = "notifications.created"


def deliveries_ended(since: datetime, until: datetime) -> dict[Labels, Increment]:
    """Deliveries that became sent or failed in (since, until] (dlv_status_updated_idx). A resent
    delivery that ends again counts again: it was delivered (or refused) again."""
    rows = (
        Delivery.objects.filter(
            status__in=[DeliveryStatus.SENT, DeliveryStatus.FAILED], updated_at__gt=since, updated_at__lte=until
        )
        .order_by()
        .values("channel", "status")
        .annotate(n=Count("id"))
    )
    return {(("channel", r["channel"]), ("status", r["status"])): Increment(value=r["n"]) for r in rows}


def notifications_created(since: datetime, until: datetime) -> dict[Labels, Increment]:
    rows = (
        Notification.objects.filter(created_at__gt=since, created_at__lte=until)
        .order_by()
        .values("priority")
        .annotate(n=Count("id"))
    )
    return {(("priority", r["priority"]),): Increment(value=r["n"]) for r in rows}


def _lag() -> float:
    return settings.METRICS_ATTEMPTS_LAG_SECONDS


class NotificationsCollector(DatabaseCollector):
    tallies = (
        Tally(DELIVERIES_ENDED, deliveries_ended, _lag),
        Tally(NOTIFICATIONS_CREATED, notifications_created, _lag),
    )

    def metrics(self) -> Iterator[object]:
        waiting = GaugeMetricFamily(
            "hcm_notification_deliveries_waiting",
            "Deliveries not yet sent, by channel and status (queued, or deferred by quiet hours).",
            labels=["channel", "status"],
        )
        rows = (
            Delivery.objects.filter(status__in=[DeliveryStatus.QUEUED, DeliveryStatus.DEFERRED])
            .order_by()
            .values("channel", "status")
            .annotate(n=Count("id"))
        )
        for row in rows:
            waiting.add_metric([row["channel"], row["status"]], row["n"])
        yield waiting
        ended = CounterMetricFamily(
            "hcm_notification_deliveries",
            "Deliveries that ended, by channel and status (sent or failed), since the first scrape.",
            labels=["channel", "status"],
        )
        for labels, counter in counters(DELIVERIES_ENDED):
            ended.add_metric([labels["channel"], labels["status"]], counter.value)
        yield ended
        created = CounterMetricFamily(
            "hcm_notifications_created",
            "In-app notifications created, by priority, since the first scrape.",
            labels=["priority"],
        )
        for labels, counter in counters(NOTIFICATIONS_CREATED):
            created.add_metric([labels["priority"]], counter.value)
        yield created
