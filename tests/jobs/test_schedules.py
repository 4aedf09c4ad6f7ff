"""Recurring schedules: the API, ticks enqueued exactly once (threads and real worker
processes), one missed tick after downtime, and daylight-saving changes."""

import logging
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from jobs.cron import next_tick
from jobs.models import BackgroundJob, JobPriority, JobSchedule, JobStatus
from jobs.schedules import job_schedule_create, job_schedules_enqueue_due
from tests.workers import start_worker, wait_until, worker_env

URL = "/api/system/job-schedules"
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(autouse=True)
def _test_job_types(job_types):
    """`test_noop` and friends: types a person may enqueue (the built-in `noop` is internal)."""
    return job_types


def body(**overrides):
    data = {
        "name": "nightly cleanup",
        "job_type": "cleanup",
        "payload": {"type": "all"},
        "cron_expression": "0 3 * * *",
        "timezone": "Europe/Berlin",
    }
    data.update(overrides)
    return data


def make_schedule(org, *, now: datetime, name: str = "every minute", **fields) -> JobSchedule:
    fields.setdefault("job_type", "test_noop")
    fields.setdefault("cron_expression", "* * * * *")
    return job_schedule_create(organization=org, name=name, created_by="test", now=now, **fields)


def tick_jobs(schedule: JobSchedule):
    return BackgroundJob.objects.filter(idempotency_key__startswith=f"schedule:{schedule.pk}:").order_by("run_at")


# --- the API ------------------------------------------------------------------------------


def test_create__returns_the_schedule_with_its_next_run_in_its_timezone(admin_client, org):
    r = admin_client.post(URL, body(priority="high"), format="json")

    assert r.status_code == 201, r.content
    data = r.json()
    assert data["id"].startswith("sch_")
    assert data["organization_id"] == org.id
    assert data["scope"] == "organization"
    assert (data["job_type"], data["payload"], data["priority"]) == ("cleanup", {"type": "all"}, "high")
    assert (data["cron_expression"], data["timezone"], data["enabled"]) == ("0 3 * * *", "Europe/Berlin", True)
    assert data["created_by"] == "alice"
    assert data["last_run_at"] is None
    next_run = datetime.fromisoformat(data["next_run_at"])
    assert next_run > timezone.now()
    assert (next_run.astimezone(BERLIN).hour, next_run.astimezone(BERLIN).minute) == (3, 0)


def test_create__defaults_and_aliases(admin_client):
    r = admin_client.post(URL, {"name": "tick", "job_type": "test_noop", "cron_expression": "@hourly"}, format="json")

    assert r.status_code == 201, r.content
    data = r.json()
    assert (data["cron_expression"], data["timezone"], data["payload"], data["priority"]) == (
        "0 * * * *",
        "UTC",
        {},
        None,
    )


@pytest.mark.parametrize(
    ("overrides", "field", "says"),
    [
        ({"cron_expression": "61 * * * *"}, "cron_expression", "out of range"),
        ({"cron_expression": "* * * *"}, "cron_expression", "Expected 5 fields"),
        ({"cron_expression": "*/5 * * * * *"}, "cron_expression", "Expected 5 fields"),
        ({"cron_expression": "0 0 31 2 *"}, "cron_expression", "never matches"),
        ({"cron_expression": "R * * * *"}, "cron_expression", "random"),
        ({"job_type": "no_such_job"}, "job_type", "Valid types: "),
        ({"payload": {"type": "everything"}}, "payload", "not a valid choice"),
        ({"payload": {"type": "all", "extra": 1}}, "payload", "Unknown field"),
        ({"payload": ["all"]}, "payload", "JSON object"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "IANA"),
        ({"timezone": ""}, "timezone", ""),
        ({"priority": "urgent"}, "priority", "not a valid choice"),
        ({"name": ""}, "name", "blank"),
        ({"name": "x" * 101}, "name", "100"),
        ({"colour": "blue"}, "colour", "Unknown field"),
    ],
)
def test_create__invalid_input_is_400_naming_the_field(admin_client, overrides, field, says):
    r = admin_client.post(URL, body(**overrides), format="json")

    assert r.status_code == 400, r.content
    data = r.json()
    assert field in data["errors"], data
    assert field in data["detail"]
    assert says in str(data["errors"][field])
    assert not JobSchedule.objects.filter(organization__isnull=False).exists()


def test_create__unknown_job_type_lists_the_valid_ones(admin_client):
    r = admin_client.post(URL, body(job_type="nope"), format="json")

    message = r.json()["errors"]["job_type"][0]
    assert "cleanup" in message and "test_noop" in message


def test_create__name_is_unique_per_organization(admin_client, other_admin_client):
    assert admin_client.post(URL, body(), format="json").status_code == 201

    again = admin_client.post(URL, body(), format="json")
    elsewhere = other_admin_client.post(URL, body(), format="json")

    assert again.status_code == 400
    assert "already exists" in again.json()["errors"]["name"][0]
    assert elsewhere.status_code == 201


def test_list__own_and_service_wide_schedules_not_other_organizations(admin_client, other_admin_client):
    mine = admin_client.post(URL, body(name="mine"), format="json").json()
    other_admin_client.post(URL, body(name="theirs"), format="json")

    r = admin_client.get(URL)

    assert r.status_code == 200
    data = r.json()
    assert set(data) == {"items", "total", "total_exact", "skip", "limit", "next"}
    names = {item["name"]: item["scope"] for item in data["items"]}
    assert names["mine"] == "organization"
    assert "theirs" not in names
    # The default maintenance schedules, service-wide and read-only here.
    assert {n for n, scope in names.items() if scope == "service"} >= {"cleanup", "log_rotate", "db_optimize"}
    assert data["total"] == len(data["items"])
    only_mine = admin_client.get(URL, {"scope": "organization"}).json()
    assert [item["id"] for item in only_mine["items"]] == [mine["id"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"scope": "organization", "job_type": "test_noop"}, ["b"]),
        ({"scope": "organization", "enabled": "false"}, ["b"]),
        ({"scope": "organization", "enabled": "true"}, ["a"]),
        ({"scope": "organization", "limit": "1", "skip": "1"}, ["b"]),
    ],
)
def test_list__filters_and_pages(admin_client, query, expected):
    admin_client.post(URL, body(name="a"), format="json")
    admin_client.post(URL, body(name="b", job_type="test_noop", payload={}, enabled=False), format="json")

    r = admin_client.get(URL, query)

    assert r.status_code == 200, r.content
    assert [item["name"] for item in r.json()["items"]] == expected


@pytest.mark.parametrize(
    ("query", "field"), [({"enabled": "maybe"}, "enabled"), ({"scope": "all"}, "scope"), ({"limit": "0"}, "limit")]
)
def test_list__bad_filter_is_400(admin_client, query, field):
    r = admin_client.get(URL, query)

    assert r.status_code == 400
    assert field in r.json()["errors"]


def test_get__other_organizations_schedule_is_404(admin_client, other_admin_client):
    theirs = other_admin_client.post(URL, body(), format="json").json()

    for method in ("get", "patch", "put", "delete"):
        r = getattr(admin_client, method)(f"{URL}/{theirs['id']}", body(), format="json")
        assert r.status_code == 404, (method, r.content)
        assert "detail" in r.json()


def test_patch__changes_only_the_named_fields(admin_client):
    created = admin_client.post(URL, body(priority="low"), format="json").json()

    r = admin_client.patch(f"{URL}/{created['id']}", {"payload": {"type": "expired_data"}}, format="json")

    assert r.status_code == 200, r.content
    data = r.json()
    assert data["payload"] == {"type": "expired_data"}
    assert (data["priority"], data["cron_expression"], data["next_run_at"]) == (
        "low",
        "0 3 * * *",
        created["next_run_at"],
    )
    assert data["updated_by"] == "alice"


def test_patch__new_cron_or_timezone_moves_next_run(admin_client):
    created = admin_client.post(URL, body(), format="json").json()

    data = admin_client.patch(
        f"{URL}/{created['id']}", {"cron_expression": "15 6 * * 1", "timezone": "America/New_York"}, format="json"
    ).json()

    next_run = datetime.fromisoformat(data["next_run_at"]).astimezone(ZoneInfo("America/New_York"))
    assert (next_run.weekday(), next_run.hour, next_run.minute) == (0, 6, 15)


def test_patch__disabling_clears_next_run_and_enabling_sets_it(admin_client):
    created = admin_client.post(URL, body(), format="json").json()

    disabled = admin_client.patch(f"{URL}/{created['id']}", {"enabled": False}, format="json").json()
    enabled = admin_client.patch(f"{URL}/{created['id']}", {"enabled": True}, format="json").json()

    assert (disabled["enabled"], disabled["next_run_at"]) == (False, None)
    assert enabled["enabled"] is True
    assert datetime.fromisoformat(enabled["next_run_at"]) > timezone.now()


def test_patch__payload_is_checked_against_the_new_job_type(admin_client):
    created = admin_client.post(URL, body(), format="json").json()

    r = admin_client.patch(f"{URL}/{created['id']}", {"job_type": "test_noop"}, format="json")

    assert r.status_code == 400
    assert "payload" in r.json()["errors"]


def test_put__replaces_the_schedule(admin_client):
    created = admin_client.post(URL, body(priority="high"), format="json").json()

    r = admin_client.put(
        f"{URL}/{created['id']}",
        {"name": "renamed", "job_type": "test_noop", "cron_expression": "*/5 * * * *"},
        format="json",
    )

    assert r.status_code == 200, r.content
    data = r.json()
    assert (data["name"], data["job_type"], data["payload"], data["priority"], data["timezone"]) == (
        "renamed",
        "test_noop",
        {},
        None,
        "UTC",
    )


def test_put__missing_required_field_is_400(admin_client):
    created = admin_client.post(URL, body(), format="json").json()

    r = admin_client.put(f"{URL}/{created['id']}", {"name": "x"}, format="json")

    assert r.status_code == 400
    assert {"job_type", "cron_expression"} <= set(r.json()["errors"])


def test_delete__removes_the_schedule(admin_client):
    created = admin_client.post(URL, body(), format="json").json()

    assert admin_client.delete(f"{URL}/{created['id']}").status_code == 204
    assert admin_client.get(f"{URL}/{created['id']}").status_code == 404


def test_service_wide_schedule__is_visible_but_read_only(admin_client):
    cleanup = JobSchedule.objects.get(organization__isnull=True, name="cleanup")

    assert admin_client.get(f"{URL}/{cleanup.pk}").json()["scope"] == "service"
    for method in ("patch", "put", "delete"):
        r = getattr(admin_client, method)(f"{URL}/{cleanup.pk}", {"enabled": False}, format="json")
        assert r.status_code == 403, method
        assert "admin" in r.json()["detail"]
    cleanup.refresh_from_db()
    assert cleanup.enabled


@pytest.mark.parametrize(("client_name", "status"), [("member_client", 403), ("anonymous", 401)])
def test_access__system_admins_only(request, client_name, status):
    from rest_framework.test import APIClient

    client = APIClient() if client_name == "anonymous" else request.getfixturevalue(client_name)

    assert client.get(URL).status_code == status
    assert client.post(URL, body(), format="json").status_code == status


# --- default maintenance schedules ----------------------------------------------------------


def test_migrate__creates_the_default_maintenance_schedules(db):
    defaults = {
        s.name: (s.job_type, s.cron_expression, s.payload, s.timezone, s.enabled)
        for s in JobSchedule.objects.filter(organization__isnull=True)
    }

    assert defaults == {
        "cleanup": ("cleanup", "0 3 * * *", {"type": "all"}, "UTC", True),
        "log_rotate": ("log_rotate", "0 0 * * *", {}, "UTC", True),
        "db_optimize": ("db_optimize", "0 4 * * 0", {}, "UTC", True),
        "notification_digest": ("notification_digest", "0 * * * *", {}, "UTC", True),
    }


def test_first_sight__a_schedule_without_next_run_starts_at_its_next_tick_without_running(db):
    now = datetime(2026, 5, 4, 10, 17, tzinfo=UTC)

    assert job_schedules_enqueue_due(now=now) == []

    cleanup = JobSchedule.objects.get(organization__isnull=True, name="cleanup")
    assert cleanup.next_run_at == datetime(2026, 5, 5, 3, 0, tzinfo=UTC)
    assert not BackgroundJob.objects.exists()


# --- ticks -----------------------------------------------------------------------------------


def test_due_tick__enqueues_one_job_whose_identity_is_the_tick(db, org):
    t0 = datetime(2026, 5, 4, 10, 0, 30, tzinfo=UTC)
    schedule = make_schedule(org, now=t0, priority="high", cron_expression="*/15 * * * *")
    tick = datetime(2026, 5, 4, 10, 15, tzinfo=UTC)
    assert schedule.next_run_at == tick

    assert job_schedules_enqueue_due(now=tick - timedelta(seconds=1)) == []
    queued = job_schedules_enqueue_due(now=tick + timedelta(seconds=3))
    again = job_schedules_enqueue_due(now=tick + timedelta(seconds=4))

    assert len(queued) == 1 and again == []
    job = queued[0]
    assert job.idempotency_key == f"schedule:{schedule.pk}:2026-05-04T10:15:00+00:00"
    assert (job.organization_id, job.job_type, job.priority, job.run_at) == (
        org.id,
        "test_noop",
        JobPriority.HIGH,
        tick,
    )
    assert job.created_by == "schedule:every minute"
    schedule.refresh_from_db()
    assert (schedule.last_run_at, schedule.last_job_id) == (tick, job.id)
    assert schedule.next_run_at == datetime(2026, 5, 4, 10, 30, tzinfo=UTC)


def test_downtime__only_the_first_missed_tick_runs_then_the_next_future_tick(db, org):
    t0 = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
    schedule = make_schedule(org, now=t0, cron_expression="0 * * * *")
    back_up = datetime(2026, 5, 4, 15, 20, tzinfo=UTC)  # 10:00 … 15:00 were missed

    queued = job_schedules_enqueue_due(now=back_up)
    later = job_schedules_enqueue_due(now=back_up + timedelta(minutes=30))

    assert [job.run_at for job in queued] == [datetime(2026, 5, 4, 10, 0, tzinfo=UTC)]
    assert later == []
    schedule.refresh_from_db()
    assert schedule.next_run_at == datetime(2026, 5, 4, 16, 0, tzinfo=UTC)


def test_disabled_schedule__never_runs(db, org):
    t0 = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
    make_schedule(org, now=t0, enabled=False)

    assert job_schedules_enqueue_due(now=t0 + timedelta(hours=3)) == []


def test_unregistered_job_type__skipped_with_a_warning_and_kept_due(db, org, caplog):
    due = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    schedule = JobSchedule.objects.create(
        organization=org,
        name="from an older release",
        job_type="retired_job",
        cron_expression="0 * * * *",
        next_run_at=due,
    )
    other = make_schedule(org, now=due - timedelta(minutes=1))

    with caplog.at_level(logging.WARNING, logger="jobs.schedules"):
        queued = job_schedules_enqueue_due(now=due + timedelta(seconds=5))
        job_schedules_enqueue_due(now=due + timedelta(seconds=6))

    assert [job.job_type for job in queued] == ["test_noop"]  # the other schedule still ran
    assert tick_jobs(other).count() == 1
    warnings = [r for r in caplog.records if "not registered" in r.getMessage()]
    assert len(warnings) == 1  # once per tick, not once per heartbeat
    schedule.refresh_from_db()
    assert schedule.next_run_at == due  # a worker that knows the type still runs this tick


def test_broken_schedule__does_not_stop_the_others(db, org, caplog):
    due = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    JobSchedule.objects.create(
        organization=org, name="edited by hand", job_type="test_noop", cron_expression="not cron", next_run_at=due
    )
    good = make_schedule(org, now=due - timedelta(minutes=1))

    with caplog.at_level(logging.ERROR, logger="jobs.schedules"):
        queued = job_schedules_enqueue_due(now=due + timedelta(seconds=5))

    assert [job.id for job in queued] == [tick_jobs(good).get().id]
    assert any("schedule tick failed" in r.getMessage() for r in caplog.records)


def test_payload_no_longer_valid__tick_skipped_and_schedule_advances(db, org, caplog):
    t0 = datetime(2026, 5, 4, 9, 59, tzinfo=UTC)
    schedule = make_schedule(org, now=t0, job_type="cleanup", payload={"type": "all"}, cron_expression="0 * * * *")
    JobSchedule.objects.filter(pk=schedule.pk).update(payload={"type": "gone"})

    with caplog.at_level(logging.ERROR, logger="jobs.schedules"):
        queued = job_schedules_enqueue_due(now=datetime(2026, 5, 4, 10, 0, 1, tzinfo=UTC))

    assert queued == []
    assert any("invalid payload" in r.getMessage() for r in caplog.records)
    schedule.refresh_from_db()
    assert schedule.next_run_at == datetime(2026, 5, 4, 11, 0, tzinfo=UTC)


# --- exactly once with many workers ----------------------------------------------------------


def test_concurrent_callers__each_tick_is_enqueued_exactly_once(transactional_db, org):
    """Four threads (own database connections) run the heartbeat's enqueue at the same fixed
    moments, for five minutes of an every-minute schedule; half the schedules are
    service-wide, where the organization + key constraint cannot help."""
    t0 = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
    schedules = [make_schedule(org, now=t0, name=f"org {i}") for i in range(3)]
    schedules += [make_schedule(None, now=t0, name=f"service {i}") for i in range(3)]
    minutes, callers = 5, 4
    barrier = threading.Barrier(callers)
    queued: list[str] = []
    errors: list[BaseException] = []

    def heartbeat() -> None:
        try:
            for minute in range(1, minutes + 1):
                barrier.wait(timeout=30)
                jobs = job_schedules_enqueue_due(now=t0 + timedelta(minutes=minute, seconds=1))
                queued.extend(job.id for job in jobs)
        except BaseException as exc:  # reported below; a thread's exception is otherwise lost
            errors.append(exc)
            barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=heartbeat) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    for schedule in schedules:
        ticks = [job.run_at for job in tick_jobs(schedule)]
        assert ticks == [t0 + timedelta(minutes=m) for m in range(1, minutes + 1)], schedule.name
    assert len(queued) == len(set(queued)) == len(schedules) * minutes


def _stop(workers: list[subprocess.Popen]) -> list[str]:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    outputs = []
    for worker in workers:
        out, _ = worker.communicate(timeout=30)
        outputs.append(out.decode())
    return outputs


@pytest.mark.slow
def test_three_workers__each_due_tick_is_enqueued_and_run_exactly_once(transactional_db, org):
    now = timezone.now()
    schedules = [make_schedule(org, now=now, name=f"org {i}", cron_expression="0 0 1 1 *") for i in range(4)]
    schedules += [make_schedule(None, now=now, name=f"service {i}", cron_expression="0 0 1 1 *") for i in range(4)]
    due = (now - timedelta(minutes=5)).replace(second=0, microsecond=0)
    JobSchedule.objects.filter(pk__in=[s.pk for s in schedules]).update(next_run_at=due)

    env = worker_env(JOBS_HANDLER_MODULES="tests.job_types")
    workers = [start_worker("--lease", "2", "--concurrency", "2", env=env) for _ in range(3)]
    try:
        all_ran = wait_until(
            lambda: (
                BackgroundJob.objects.filter(status=JobStatus.COMPLETED, job_type="test_noop").count() >= len(schedules)
            ),
            timeout=40,
        )
        # A few more heartbeats (every 0.5 s with a 2 s lease) in which a duplicate could appear.
        time.sleep(2)
    finally:
        outputs = _stop(workers)

    assert all_ran, "\n".join(outputs)
    for schedule in schedules:
        jobs = list(tick_jobs(schedule))
        assert [(job.run_at, job.status) for job in jobs] == [(due, JobStatus.COMPLETED)], schedule.name
        schedule.refresh_from_db()
        assert schedule.next_run_at == datetime(now.year + 1, 1, 1, tzinfo=UTC)
    assert BackgroundJob.objects.count() == len(schedules)


# --- daylight-saving changes ---------------------------------------------------------------


def local_ticks(expression: str, zone: str, start: datetime, end: datetime) -> list[str]:
    tz = ZoneInfo(zone)
    ticks, t = [], start
    while (t := next_tick(expression, tz, after=t)) < end:
        ticks.append(t.astimezone(tz).isoformat())
    return ticks


@pytest.mark.parametrize(
    ("case", "expression", "zone", "start", "end", "expected"),
    [
        (
            "spring forward: 02:30 does not exist, runs once after the jump",
            "30 2 * * *",
            "Europe/Berlin",
            datetime(2026, 3, 28, 0, 0, tzinfo=UTC),
            datetime(2026, 3, 31, 0, 0, tzinfo=UTC),
            ["2026-03-28T02:30:00+01:00", "2026-03-29T03:30:00+02:00", "2026-03-30T02:30:00+02:00"],
        ),
        (
            "fall back: 02:30 happens twice, runs at the first only",
            "30 2 * * *",
            "Europe/Berlin",
            datetime(2026, 10, 24, 0, 0, tzinfo=UTC),
            datetime(2026, 10, 27, 0, 0, tzinfo=UTC),
            ["2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"],
        ),
        (
            "spring forward, hourly: the missing hour is not made up",
            "0 * * * *",
            "Europe/Berlin",
            datetime(2026, 3, 28, 23, 30, tzinfo=UTC),
            datetime(2026, 3, 29, 2, 30, tzinfo=UTC),
            ["2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"],
        ),
        (
            "fall back, hourly: the repeated hour runs twice, once an hour",
            "0 * * * *",
            "Europe/Berlin",
            datetime(2026, 10, 24, 23, 30, tzinfo=UTC),
            datetime(2026, 10, 25, 2, 30, tzinfo=UTC),
            [
                "2026-10-25T02:00:00+02:00",
                "2026-10-25T02:00:00+01:00",
                "2026-10-25T03:00:00+01:00",
            ],
        ),
        (
            "spring forward in New York at 02:00",
            "30 2 * * *",
            "America/New_York",
            datetime(2026, 3, 7, 12, 0, tzinfo=UTC),
            datetime(2026, 3, 9, 12, 0, tzinfo=UTC),
            ["2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"],
        ),
        (
            "UTC has no changes",
            "30 2 * * *",
            "UTC",
            datetime(2026, 3, 28, 0, 0, tzinfo=UTC),
            datetime(2026, 3, 30, 0, 0, tzinfo=UTC),
            ["2026-03-28T02:30:00+00:00", "2026-03-29T02:30:00+00:00"],
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and " " in v else None,
)
def test_next_tick__daylight_saving_changes(case, expression, zone, start, end, expected):
    assert local_ticks(expression, zone, start, end) == expected


@pytest.mark.parametrize(
    ("day", "expected_local"),
    [
        (datetime(2026, 3, 29, tzinfo=UTC), "2026-03-29T03:30:00+02:00"),  # spring forward
        (datetime(2026, 10, 25, tzinfo=UTC), "2026-10-25T02:30:00+02:00"),  # fall back
    ],
)
def test_worker_heartbeats_across_a_dst_change__daily_job_runs_once_that_day(db, org, day, expected_local):
    """A daily 02:30 Europe/Berlin schedule polled every 10 minutes, as workers do, for the
    day before, the day of the change and the day after: one job per local day."""
    start = day - timedelta(days=1)
    schedule = make_schedule(
        org, now=start - timedelta(hours=2), cron_expression="30 2 * * *", timezone="Europe/Berlin"
    )

    moment = start
    while moment < day + timedelta(days=2):
        job_schedules_enqueue_due(now=moment)
        moment += timedelta(minutes=10)

    runs = [job.run_at.astimezone(BERLIN) for job in tick_jobs(schedule)]
    assert [r.date() for r in runs] == [(day + timedelta(days=d)).date() for d in (-1, 0, 1)]
    assert runs[1].isoformat() == expected_local
