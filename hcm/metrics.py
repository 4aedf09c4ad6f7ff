"""GET /metrics: the Prometheus text format, for the platform operator's monitoring.

Every figure comes from the database at scrape time, so any number of web and worker
processes report one truth. Each app contributes a collector (settings.METRICS_COLLECTORS,
imported on the first scrape: this module imports no app). Gauges are counts of the live
queue from indexed queries; counters of history (attempts, notifications) are kept in
`metric_counters` and advanced at scrape time by a *tally*: the events logged since the
tally's cursor, found through an index on their time column, so a scrape costs what
happened since the last one, never the whole history.

Access: `Authorization: Bearer <METRICS_TOKEN>`, or a client address in
METRICS_ALLOWED_IPS. Neither configured: 404 (the endpoint does not exist). A wrong or
missing token: 401. An address not allowed, with no token configured: 403.
"""

import hmac
import ipaddress
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from hcm.models import MetricCounter, MetricCursor

logger = logging.getLogger(__name__)

Labels = tuple[tuple[str, str], ...]


# --- access ------------------------------------------------------------------------------


@cache
def _allowed_networks(entries: tuple[str, ...]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(entry, strict=False) for entry in entries]


def metrics_access(request: HttpRequest) -> int:
    """200 if the caller may read /metrics, else the status to answer (404, 401, 403)."""
    token = settings.METRICS_TOKEN
    allowed_ips = tuple(settings.METRICS_ALLOWED_IPS)
    if not token and not allowed_ips:
        return 404
    if allowed_ips:
        try:
            address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
        except ValueError:
            address = None
        if address is not None and any(address in net for net in _allowed_networks(allowed_ips)):
            return 200
    if token:
        scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
        return 200 if ok else 401
    return 403


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    status = metrics_access(request)
    if status == 404:
        return JsonResponse({"detail": "Not found."}, status=404)
    if status == 401:
        response = JsonResponse({"detail": "A valid metrics token is required (Authorization: Bearer …)."}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if status == 403:
        return JsonResponse({"detail": "This address may not read the metrics."}, status=403)
    # The format the scraper asks for (Accept): Prometheus' text format 0.0.4 by default,
    # OpenMetrics when asked.
    encode, content_type = choose_encoder(request.META.get("HTTP_ACCEPT", ""))
    return HttpResponse(encode(_registry()), content_type=content_type)


@cache
def _registry() -> CollectorRegistry:
    # Only this module's collectors: not the process's default registry (its
    # process_*/python_* figures describe one web process, not the service).
    registry = CollectorRegistry(auto_describe=False)
    for path in settings.METRICS_COLLECTORS:
        registry.register(import_string(path)())
    return registry


# --- counters kept in the database --------------------------------------------------------


def labels_key(labels: dict[str, str]) -> str:
    return json.dumps(dict(sorted(labels.items())), separators=(",", ":"))


@dataclass
class Increment:
    """What a tally found for one label set since its cursor."""

    value: float
    total: float = 0.0
    buckets: list[float] | None = None  # cumulative counts, aligned with the tally's bounds


@dataclass(frozen=True)
class Tally:
    """A counter family advanced from a time-ordered log.

    `count(since, until)` returns the increments for events in (since, until], one entry
    per label set; it must find them through an index on the time column. Events count
    once they are `lag` old: a row written a little after its timestamp (a worker records
    finished attempts in batches) is still counted.
    """

    name: str
    count: Callable[[datetime, datetime], dict[Labels, Increment]]
    lag: Callable[[], float] = lambda: 0.0


def tally_advance(tally: Tally, *, now: datetime | None = None) -> None:
    """Count the events since the tally's cursor into its counters, and move the cursor.

    One transaction; the cursor row is locked, so concurrent scrapes count each event
    once. A tally seen for the first time starts counting from now (counters start at 0,
    like a process's counters at its start; history before it is not replayed).
    """
    until = (now or timezone.now()) - timedelta(seconds=tally.lag())
    with transaction.atomic(savepoint=False):
        MetricCursor.objects.bulk_create([MetricCursor(name=tally.name, counted_until=until)], ignore_conflicts=True)
        cursor = MetricCursor.objects.select_for_update().get(pk=tally.name)
        if until <= cursor.counted_until:
            return
        increments = tally.count(cursor.counted_until, until)
        if increments:
            _apply(tally.name, increments)
        cursor.counted_until = until
        cursor.save(update_fields=["counted_until"])


def _apply(name: str, increments: dict[Labels, Increment]) -> None:
    existing = {c.labels: c for c in MetricCounter.objects.filter(name=name)}
    changed, created = [], []
    for labels, inc in increments.items():
        key = labels_key(dict(labels))
        counter = existing.get(key)
        if counter is None:
            created.append(MetricCounter(name=name, labels=key, value=inc.value, total=inc.total, buckets=inc.buckets))
            continue
        counter.value += inc.value
        counter.total += inc.total
        if inc.buckets is not None:
            old = counter.buckets or [0] * len(inc.buckets)
            counter.buckets = [a + b for a, b in zip(old, inc.buckets, strict=True)]
        changed.append(counter)
    if changed:
        MetricCounter.objects.bulk_update(changed, ["value", "total", "buckets"])
    if created:
        MetricCounter.objects.bulk_create(created)


def counters(name: str) -> Iterator[tuple[dict[str, str], MetricCounter]]:
    """The counters of a tally, with their labels."""
    for counter in MetricCounter.objects.filter(name=name).order_by("labels"):
        yield json.loads(counter.labels), counter


def cumulative_buckets(bounds: Iterable[float], counts: list[float]) -> list[tuple[str, float]]:
    """prometheus_client's histogram buckets: ("0.005", n), …, ("+Inf", total)."""
    return [(_le(b), c) for b, c in zip(bounds, counts, strict=True)]


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else f"{bound:g}"


class DatabaseCollector(Collector):
    """Base of the apps' collectors: advances their tallies, then reports."""

    tallies: tuple[Tally, ...] = ()

    def collect(self) -> Iterator[Any]:
        # One transaction (one commit) for all of this collector's tallies.
        with transaction.atomic():
            for tally in self.tallies:
                tally_advance(tally)
        yield from self.metrics()

    def metrics(self) -> Iterator[Any]:
        raise NotImplementedError
