"""The operator dashboard: its figures (jobs.dashboard) and the admin page that shows them."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from hcm.models import User
from jobs.dashboard import (
    jobs_by_status,
    paused_types,
    queue_depth,
    slowest_job_types,
    throughput_daily,
    throughput_hourly,
    workers_overview,
)
from jobs.models import AttemptOutcome, JobStatus, WorkerHeartbeat
from jobs.services import job_type_pause
from tests.console.conftest import make_attempt, make_job

NOW = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)
DASHBOARD = "/admin/jobs/dashboard/"


# --- figures ----------------------------------------------------------------------------------


def test_queue_depth__splits_queued_jobs_into_due_scheduled_and_paused(org):
    now = timezone.now()
    make_job(org, available_at=now - timedelta(minutes=5))
    make_job(org, available_at=now - timedelta(minutes=1))
    make_job(org, available_at=now + timedelta(hours=1))  # run_at / retry back-off in the future
    make_job(org, status=JobStatus.PROCESSING)
    make_job(org, status=JobStatus.COMPLETED)

    depth = queue_depth(now=now)

    assert (depth.queued, depth.due, depth.scheduled, depth.paused, depth.processing) == (3, 2, 1, 0, 1)
    assert depth.oldest_due_age_seconds == pytest.approx(300, abs=1)


def test_queue_depth__jobs_of_a_paused_type_are_held_not_due(org):
    now = timezone.now()
    make_job(org, available_at=now - timedelta(minutes=1))
    job_type_pause(job_type="noop", organization=None, by="root")

    depth = queue_depth(now=now)

    assert (depth.queued, depth.due, depth.scheduled, depth.paused) == (1, 0, 0, 1)
    assert depth.oldest_due_age_seconds is None


def test_jobs_by_status__every_status_in_lifecycle_order_zeros_included(org, other_org):
    make_job(org, status=JobStatus.FAILED)
    make_job(other_org, status=JobStatus.FAILED)
    make_job(org, status=JobStatus.COMPLETED)

    assert jobs_by_status() == {"queued": 0, "processing": 0, "completed": 1, "failed": 2, "cancelled": 0}


def test_throughput_daily__seven_day_buckets_count_completed_and_failed_attempts(org):
    job = make_job(org, status=JobStatus.COMPLETED)
    make_attempt(job, finished_at=NOW)
    make_attempt(job, finished_at=NOW - timedelta(hours=1), outcome=AttemptOutcome.FAILED)
    make_attempt(job, finished_at=NOW - timedelta(hours=2), outcome=AttemptOutcome.TIMEOUT)
    make_attempt(job, finished_at=NOW - timedelta(hours=3), outcome=AttemptOutcome.LEASE_EXPIRED)
    make_attempt(job, finished_at=NOW - timedelta(hours=4), outcome=AttemptOutcome.CANCELLED)  # neither
    make_attempt(job, finished_at=NOW - timedelta(hours=5), outcome=AttemptOutcome.HANDED_BACK)  # neither
    make_attempt(job, finished_at=datetime(2026, 3, 4, 0, 30, tzinfo=UTC))  # first day of the window
    make_attempt(job, finished_at=datetime(2026, 3, 3, 23, 59, tzinfo=UTC))  # the day before: out

    days = throughput_daily(now=NOW)

    assert [d.start for d in days] == [datetime(2026, 3, d, tzinfo=UTC) for d in range(4, 11)]
    assert [(d.completed, d.failed) for d in days] == [(1, 0), (0, 0), (0, 0), (0, 0), (0, 0), (0, 0), (1, 3)]
    assert days[-1].failure_rate == pytest.approx(0.75)
    assert days[1].failure_rate is None  # nothing finished: no rate, not 0 %


def test_throughput_hourly__twenty_four_clock_hours_ending_with_the_current_one(org):
    job = make_job(org, status=JobStatus.COMPLETED)
    make_attempt(job, finished_at=NOW - timedelta(minutes=29))  # 14:01, the current hour
    make_attempt(job, finished_at=NOW - timedelta(hours=23), outcome=AttemptOutcome.FAILED)  # 15:30 yesterday
    make_attempt(job, finished_at=NOW - timedelta(hours=24))  # 14:30 yesterday: out

    hours = throughput_hourly(now=NOW)

    assert len(hours) == 24
    assert hours[0].start == datetime(2026, 3, 9, 15, tzinfo=UTC)
    assert hours[-1].start == datetime(2026, 3, 10, 14, tzinfo=UTC)
    assert (hours[0].completed, hours[0].failed) == (0, 1)
    assert (hours[-1].completed, hours[-1].failed) == (1, 0)
    assert sum(h.finished for h in hours) == 2


def test_slowest_job_types__by_mean_with_nearest_rank_p95(org):
    job = make_job(org, status=JobStatus.COMPLETED)
    for ms in range(1, 21):  # 1..20 ms: mean 10.5, p95 = the 19th value
        make_attempt(job, finished_at=NOW, ms=float(ms), job_type="report")
    make_attempt(job, finished_at=NOW, ms=500.0, job_type="export")
    make_attempt(job, finished_at=NOW, ms=1.0, job_type="ping")
    make_attempt(job, finished_at=NOW - timedelta(days=8), ms=9999.0, job_type="ancient")  # before `since`

    rows = slowest_job_types(since=NOW - timedelta(days=7))

    assert [(r.job_type, r.runs, r.mean_ms, r.p95_ms) for r in rows] == [
        ("export", 1, 500.0, 500.0),
        ("report", 20, 10.5, 19.0),
        ("ping", 1, 1.0, 1.0),
    ]


def test_workers_overview__alive_stale_and_stopped_with_last_heartbeat(db):
    now = timezone.now()
    beat = {"hostname": "h1", "pid": 1, "started_at": now - timedelta(hours=1)}
    WorkerHeartbeat.objects.create(worker_id="alive", last_seen_at=now, **beat)
    WorkerHeartbeat.objects.create(worker_id="stale", last_seen_at=now - timedelta(hours=1), **beat)
    WorkerHeartbeat.objects.create(worker_id="stopped", last_seen_at=now - timedelta(minutes=2), stopped_at=now, **beat)
    WorkerHeartbeat.objects.create(worker_id="gone", last_seen_at=now - timedelta(days=30), **beat)

    rows = workers_overview(since=now - timedelta(days=7))

    assert [(w.worker_id, w.alive, w.last_seen_at) for w in rows] == [
        ("alive", True, now),
        ("stopped", False, now - timedelta(minutes=2)),
        ("stale", False, now - timedelta(hours=1)),
    ]


def test_paused_types__with_the_number_of_jobs_they_hold(org):
    make_job(org)
    make_job(org)
    make_job(org, status=JobStatus.COMPLETED)
    job_type_pause(job_type="noop", organization=None, by="root")

    rows = paused_types()

    assert [(p.job_type, p.paused_by, p.queued) for p in rows] == [("noop", "root", 2)]


# --- the page ---------------------------------------------------------------------------------


def test_dashboard_page__shows_figures_charts_workers_and_paused_types(operator, org):
    make_job(org, status=JobStatus.FAILED)
    make_job(org, status=JobStatus.FAILED)
    job = make_job(org, status=JobStatus.COMPLETED)
    make_attempt(job, finished_at=timezone.now(), ms=42.0)
    now = timezone.now()
    WorkerHeartbeat.objects.create(worker_id="host:1:abc", hostname="host", pid=1, started_at=now, last_seen_at=now)
    job_type_pause(job_type="noop", organization=None, by="root")

    response = operator.get(DASHBOARD)

    assert response.status_code == 200
    html = response.content.decode()
    charts = html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart ')
    assert charts == 5  # by status; throughput and failure rate × (7 days, 24 hours)
    assert '<td class="count" data-status="failed">2</td>' in html
    assert '<td class="count" data-status="completed">1</td>' in html
    assert "host:1:abc" in html and "alive" in html
    assert "42.0 ms" in html  # slowest job types
    assert "<script" not in html.split('id="content-main"')[1]  # charts need no JavaScript
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing loaded from another host


def test_dashboard_page__escapes_job_type_names(operator, org):
    job = make_job(org, status=JobStatus.COMPLETED)
    make_attempt(job, finished_at=timezone.now(), job_type="<img src=x onerror=alert(1)>")

    html = operator.get(DASHBOARD).content.decode()

    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_dashboard_page__is_linked_from_the_admin_index(operator):
    html = operator.get("/admin/").content.decode()

    assert f'href="{DASHBOARD}"' in html
    assert 'href="/admin/admin/logentry/"' in html


def test_dashboard_page__anonymous_is_sent_to_the_admin_login(db):
    response = Client().get(DASHBOARD)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_dashboard_page__staff_without_job_permission_is_refused(org):
    staff = User.objects.create_user(username="intern", password=None, is_staff=True)
    client = Client()
    client.force_login(staff)

    assert client.get(DASHBOARD).status_code == 403
