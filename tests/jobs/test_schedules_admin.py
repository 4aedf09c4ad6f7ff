"""The Django admin for recurring schedules, as an operator uses it: the service-wide
maintenance schedules are changed here, with the same validation as the API."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import quote
from django.test import Client

from hcm.models import User
from jobs.models import BackgroundJob, JobSchedule

SCHEDULES = "/admin/jobs/jobschedule/"


@pytest.fixture
def operator(db) -> Client:
    # No password: hashing one is slow, and force_login does not need it.
    user = User.objects.create_superuser(username="root", email="root@example.com", password=None)
    client = Client()
    client.force_login(user)
    return client


def form_data(**overrides) -> dict:
    data = {
        "name": "nightly export",
        "organization": "",
        "job_type": "cleanup",
        "payload": '{"type": "all"}',
        "priority": "",
        "cron_expression": "0 2 * * *",
        "timezone": "Europe/Berlin",
        "enabled": "on",
    }
    data.update(overrides)
    return data


def run_action(operator: Client, action: str, schedules: list[JobSchedule]):
    return operator.post(
        SCHEDULES, {"action": action, "_selected_action": [s.pk for s in schedules], "index": 0}, follow=True
    )


def test_changelist__lists_the_default_maintenance_schedules(operator):
    response = operator.get(SCHEDULES)

    assert response.status_code == 200
    text = response.content.decode()
    for name in ("cleanup", "log_rotate", "db_optimize", "notification_digest"):
        assert name in text
    assert '<td class="field-scope">Service-wide</td>' in text


def test_changelist__one_organization_filter_with_service_wide(operator, org):
    from jobs.schedules import job_schedule_create

    mine = job_schedule_create(
        organization=org,
        created_by="root",
        name="flush report cache",
        job_type="cache_flush",
        payload={"action": "partial", "prefix": "reports:"},
        priority=None,
        cron_expression="@daily",
        timezone="UTC",
        enabled=True,
    )

    page = operator.get(SCHEDULES)
    service = operator.get(SCHEDULES, {"organization__id__exact": "service"})
    theirs = operator.get(SCHEDULES, {"organization__id__exact": str(org.pk)})

    titles = [f.title for f in page.context["cl"].filter_specs]
    assert titles.count("organization") == 1
    choices = [c["display"] for c in page.context["cl"].filter_specs[-1].choices(page.context["cl"])]
    assert choices == ["All", "Service-wide", org.name]
    assert mine not in service.context["cl"].result_list
    assert {s.organization_id for s in service.context["cl"].result_list} == {None}
    assert list(theirs.context["cl"].result_list) == [mine]


def test_add__valid_schedule_is_saved_with_its_next_run(operator):
    response = operator.post(f"{SCHEDULES}add/", form_data(), follow=True)

    assert response.status_code == 200
    schedule = JobSchedule.objects.get(name="nightly export")
    assert (schedule.organization_id, schedule.payload, schedule.created_by) == (None, {"type": "all"}, "root")
    assert schedule.next_run_at is not None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cron_expression": "99 * * * *"}, "out of range"),
        ({"timezone": "Europe/Atlantis"}, "Unknown timezone"),
        ({"payload": '{"type": "nope"}'}, "not a valid choice"),
    ],
)
def test_add__invalid_schedule_shows_the_error_and_saves_nothing(operator, overrides, message):
    response = operator.post(f"{SCHEDULES}add/", form_data(**overrides))

    assert response.status_code == 200  # the form again, with errors
    assert message in response.content.decode()
    assert not JobSchedule.objects.filter(name="nightly export").exists()


def test_change__operator_reschedules_a_maintenance_schedule(operator):
    cleanup = JobSchedule.objects.get(organization__isnull=True, name="cleanup")

    response = operator.post(
        f"{SCHEDULES}{quote(cleanup.pk)}/change/",
        form_data(name="cleanup", payload='{"type": "expired_data"}', cron_expression="30 1 * * *"),
        follow=True,
    )

    assert response.status_code == 200
    cleanup.refresh_from_db()
    assert (cleanup.cron_expression, cleanup.payload, cleanup.updated_by) == (
        "30 1 * * *",
        {"type": "expired_data"},
        "root",
    )
    assert cleanup.next_run_at is not None


def test_actions__disable_enable_and_run_now_are_recorded(operator):
    log_rotate = JobSchedule.objects.get(organization__isnull=True, name="log_rotate")

    run_action(operator, "disable_schedules", [log_rotate])
    log_rotate.refresh_from_db()
    assert (log_rotate.enabled, log_rotate.next_run_at) == (False, None)

    run_action(operator, "enable_schedules", [log_rotate])
    log_rotate.refresh_from_db()
    assert log_rotate.enabled and log_rotate.next_run_at is not None

    response = run_action(operator, "run_schedules_now", [log_rotate])
    job = BackgroundJob.objects.get(job_type="log_rotate")
    assert job.created_by == "root"
    assert job.id in response.content.decode()
    changes = LogEntry.objects.filter(object_id=log_rotate.pk).values_list("change_message", flat=True)
    assert set(changes) >= {"Disabled.", "Enabled.", f"Ran now: queued job {job.id}."}


def test_actions__a_schedule_of_an_unregistered_job_type_can_still_be_disabled(operator):
    retired = JobSchedule.objects.create(name="retired", job_type="retired_job", cron_expression="0 * * * *")

    run_action(operator, "disable_schedules", [retired])

    retired.refresh_from_db()
    assert retired.enabled is False
