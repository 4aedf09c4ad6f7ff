"""The SQLite backend's datetime adaptation (hcm/db_backends/sqlite3/operations.py): its
quick path for aware UTC datetimes writes the text Django's own adaptation writes, and
other values still go through Django's."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.backends.sqlite3 import base as django_sqlite  # first: its operations module imports it
from django.utils import timezone

from jobs.models import BackgroundJob
from jobs.services import job_enqueue

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's datetime adaptation")

VALUES = [
    datetime(2026, 11, 27, 4, 5, 6, 789012, tzinfo=UTC),
    datetime(2026, 11, 27, 4, 5, 6, tzinfo=UTC),  # no microseconds: no fraction in the text
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("Europe/Paris")),  # not UTC: Django's path
    datetime(2026, 11, 27, 4, 5, 6, 1, tzinfo=ZoneInfo("America/New_York")),
    None,
]


@pytest.mark.parametrize("value", VALUES, ids=str)
def test_adapt_datetimefield_value__same_text_as_djangos(value):
    djangos = django_sqlite.DatabaseOperations.adapt_datetimefield_value(connection.ops, value)
    assert connection.ops.adapt_datetimefield_value(value) == djangos


@pytest.mark.django_db
def test_adapted_datetime__reads_back_as_the_same_instant(org):
    when = timezone.now().replace(microsecond=0) + timedelta(hours=1)
    job, _ = job_enqueue(organization=org, job_type="noop", run_at=when)
    stored = BackgroundJob.objects.get(pk=job.pk)
    assert stored.run_at == when
    assert BackgroundJob.objects.filter(pk=job.pk, run_at=when).exists()
    assert not BackgroundJob.objects.filter(pk=job.pk, run_at__gt=when).exists()
