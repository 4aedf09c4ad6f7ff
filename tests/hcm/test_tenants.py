"""Many organizations, one service: every object endpoint across two organizations and
two roles, job-type scopes for each role, and pauses that hold one organization only."""

from datetime import timedelta

import pytest
from django.core.cache import caches
from django.utils import timezone

from hcm.cache import org_cache_key
from hcm.models import Role
from jobs.models import BackgroundJob, JobSchedule, JobStatus, JobTypePause
from jobs.schedules import job_schedule_create
from jobs.services import job_enqueue
from notifications.models import Notification
from notifications.services.notify import notification_send_custom
from tests.conftest import client_for
from tests.factories import make_user
from tests.workers import run_burst, worker_env

JOBS = "/api/system/background-jobs"
SCHEDULES = "/api/system/job-schedules"
NOTIFICATIONS = "/api/notifications"


@pytest.fixture
def acme_objects(org, admin_user, member_user, job_types) -> dict[str, str]:
    """One object of each kind belonging to acme (alice, its admin, and bob, a member)."""
    job, _ = job_enqueue(organization=org, job_type="test_noop", created_by="alice")
    failed, _ = job_enqueue(organization=org, job_type="test_noop", created_by="alice")
    BackgroundJob.objects.filter(pk=failed.pk).update(status=JobStatus.FAILED, completed_at=timezone.now())
    schedule = job_schedule_create(
        organization=org,
        name="nightly",
        job_type="cleanup",
        payload={"type": "all"},
        cron_expression="@daily",
        created_by="alice",
    )
    [alices] = notification_send_custom(
        org, recipients=[admin_user.pk], title="For Alice", message="", created_by="alice"
    ).notifications
    return {"job": job.pk, "failed_job": failed.pk, "schedule": schedule.pk, "notification": alices.pk}


# (method, path template, body): every endpoint that names an object.
OBJECT_ENDPOINTS = [
    ("get", JOBS + "/{job}", None),
    ("post", JOBS + "/{job}/cancel", None),
    ("post", JOBS + "/{failed_job}/retry", None),
    ("get", SCHEDULES + "/{schedule}", None),
    ("patch", SCHEDULES + "/{schedule}", {"enabled": False}),
    (
        "put",
        SCHEDULES + "/{schedule}",
        {"name": "x", "job_type": "cleanup", "payload": {"type": "all"}, "cron_expression": "@daily"},
    ),
    ("delete", SCHEDULES + "/{schedule}", None),
    ("get", NOTIFICATIONS + "/{notification}", None),
    ("patch", NOTIFICATIONS + "/{notification}/read", None),
    ("delete", NOTIFICATIONS + "/{notification}", None),
]

# Who asks → what they get for each endpoint above (acme's objects; mallory is globex's admin,
# bob is acme's member, carol is globex's member, alice is acme's admin but the notification is
# hers, so another acme user gets 404 for it).
CALLERS = {
    "other_org_admin": {"system": 404, "notification": 404},
    "other_org_member": {"system": 403, "notification": 404},
    "same_org_member": {"system": 403, "notification": 404},
}


def _snapshot() -> tuple:
    """Everything an endpoint above could change."""
    return (
        sorted(BackgroundJob.objects.values_list("id", "status", "updated_at")),
        sorted(JobSchedule.objects.values_list("id", "name", "enabled", "updated_at")),
        sorted(Notification.objects.values_list("id", "read_at")),
    )


@pytest.mark.parametrize("caller", list(CALLERS))
@pytest.mark.parametrize(
    ("method", "template", "body"), OBJECT_ENDPOINTS, ids=[f"{m} {t}" for m, t, _ in OBJECT_ENDPOINTS]
)
def test_object_endpoints__another_organization_or_role_never_reaches_the_object(
    caller, method, template, body, acme_objects, other_org, member_user
):
    users = {
        "other_org_admin": make_user(other_org, role=Role.SYSTEM_ADMIN, username="mallory"),
        "other_org_member": make_user(other_org, role=Role.MEMBER, username="carol"),
        "same_org_member": member_user,
    }
    client = client_for(users[caller])
    path = template.format(**acme_objects)
    before = _snapshot()

    response = getattr(client, method)(path, body, format="json")

    kind = "notification" if path.startswith(NOTIFICATIONS) else "system"
    assert response.status_code == CALLERS[caller][kind], response.content
    assert "detail" in response.json()
    text = response.content.decode()
    assert "For Alice" not in text and "nightly" not in text  # none of acme's data
    assert _snapshot() == before


def test_lists__show_only_the_callers_organization(acme_objects, other_admin_client, other_admin):
    for path in (JOBS, SCHEDULES, NOTIFICATIONS):
        items = other_admin_client.get(path).json()["items"]
        assert not [i for i in items if i.get("organization_id") == acme_objects or i["id"] in acme_objects.values()]
    stats = other_admin_client.get(JOBS + "/stats").json()
    assert stats["total"] == 0


# --- job-type scopes, by role -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("job_type", "payload", "admin_status", "operator_status"),
    [
        ("email_send", {"to": "a@example.com", "subject": "Hi", "body": "x"}, 201, 201),  # organization
        ("cleanup", {"type": "expired_data"}, 201, 201),  # organization (or service)
        ("cache_flush", {"action": "full"}, 201, 201),
        ("db_optimize", {}, 403, 201),  # service only
        ("log_rotate", {}, 403, 201),
        ("noop", {}, 400, 400),  # internal: not offered at all
        ("notification_send", {"delivery_id": "dlv_x"}, 400, 400),
        ("notification_send_batch", {"delivery_ids": ["dlv_x"]}, 400, 400),
        ("django_task", {"task_path": "x.y"}, 400, 400),
    ],
)
def test_create__each_scope_with_each_role(
    admin_client, operator_client, member_client, job_type, payload, admin_status, operator_status
):
    body = {"job_type": job_type, "payload": payload}

    by_admin = admin_client.post(JOBS, body, format="json")
    by_operator = operator_client.post(JOBS, body, format="json")

    assert member_client.post(JOBS, body, format="json").status_code == 403
    assert by_admin.status_code == admin_status, by_admin.content
    assert by_operator.status_code == operator_status, by_operator.content
    if admin_status == 403:
        assert "platform operator" in by_admin.json()["detail"] and job_type in by_admin.json()["detail"]
    if admin_status == 400:
        assert job_type not in by_admin.json()["errors"]["job_type"][0].split("Valid types:")[1]
    if operator_status == 201:
        job = BackgroundJob.objects.get(pk=by_operator.json()["id"])
        # The operator's job acts where its type's default scope says.
        expected_org = None if job_type in ("db_optimize", "log_rotate") else by_operator.json()["organization_id"]
        assert job.organization_id == expected_org


def test_create__service_wide_cleanup_needs_an_operator(admin_client, operator_client, operator_user):
    body = {"job_type": "cleanup", "payload": {"type": "all"}, "scope": "service"}

    refused = admin_client.post(JOBS, body, format="json")
    accepted = operator_client.post(JOBS, body, format="json")

    assert refused.status_code == 403 and "scope: service" in refused.json()["detail"]
    assert accepted.status_code == 201, accepted.content
    assert accepted.json()["organization_id"] is None
    # The operator sees the service-wide job; an organization admin does not.
    assert operator_client.get(f"{JOBS}/{accepted.json()['id']}").status_code == 200
    assert admin_client.get(f"{JOBS}/{accepted.json()['id']}").status_code == 404


def test_create__organization_cleanup_cannot_touch_shared_logs(admin_client):
    response = admin_client.post(JOBS, {"job_type": "cleanup", "payload": {"type": "old_logs"}}, format="json")

    assert response.status_code == 400
    assert "payload.type" in response.json()["detail"]


def test_create__several_bad_fields_are_reported_at_once(admin_client):
    body = {"job_type": "make_coffee", "priority": "urgent", "max_retries": 99, "run_at": "tomorrow", "bogus": 1}

    response = admin_client.post(JOBS, body, format="json")

    assert response.status_code == 400
    errors, detail = response.json()["errors"], response.json()["detail"]
    assert set(errors) == {"job_type", "priority", "max_retries", "run_at", "bogus"}
    for field in errors:
        assert field in detail
    assert "low, medium, high" in errors["priority"][0]  # a choice error names the valid values
    assert "Valid types:" in errors["job_type"][0]
    assert errors["priority"][0] != errors["max_retries"][0]


def test_create__bad_payload_and_bad_priority_together(admin_client):
    body = {"job_type": "email_send", "priority": "urgent", "payload": {"to": "not-an-address"}}

    response = admin_client.post(JOBS, body, format="json")

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "priority" in errors and "payload" in errors
    assert {"to", "subject"} <= set(errors["payload"])


@pytest.mark.parametrize(
    ("body", "admin_status", "operator_status"),
    [
        ({"name": "mine", "job_type": "cleanup", "payload": {"type": "all"}, "cron_expression": "@daily"}, 201, 201),
        ({"name": "vacuum", "job_type": "db_optimize", "cron_expression": "@daily"}, 403, 201),
        (
            {
                "name": "all",
                "job_type": "cleanup",
                "payload": {"type": "all"},
                "cron_expression": "@daily",
                "scope": "service",
            },
            403,
            201,
        ),
        ({"name": "tick", "job_type": "noop", "cron_expression": "@daily"}, 400, 400),
    ],
)
def test_schedules__organization_admins_schedule_their_own_operators_service_wide(
    admin_client, operator_client, body, admin_status, operator_status
):
    by_admin = admin_client.post(SCHEDULES, body, format="json")
    by_operator = operator_client.post(SCHEDULES, {**body, "name": body["name"] + "-op"}, format="json")

    assert by_admin.status_code == admin_status, by_admin.content
    assert by_operator.status_code == operator_status, by_operator.content
    if admin_status == 201:
        assert by_admin.json()["scope"] == "organization"


def test_schedules__operators_change_service_wide_ones_admins_only_read_them(admin_client, operator_client, db):
    schedule = job_schedule_create(
        organization=None, name="vacuum", job_type="db_optimize", cron_expression="@daily", created_by="root"
    )

    assert admin_client.get(f"{SCHEDULES}/{schedule.pk}").status_code == 200
    assert admin_client.patch(f"{SCHEDULES}/{schedule.pk}", {"enabled": False}, format="json").status_code == 403
    changed = operator_client.patch(f"{SCHEDULES}/{schedule.pk}", {"enabled": False}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["enabled"] is False


# --- pauses ------------------------------------------------------------------------------------


def test_pause__an_admin_pauses_for_their_organization_only(admin_client, org, other_org, job_types):
    response = admin_client.post(JOBS + "/pause", {"job_type": "test_noop"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "organization"
    [pause] = JobTypePause.objects.all()
    assert pause.organization_id == org.pk


@pytest.mark.parametrize("path", ["/pause", "/resume"])
def test_pause__service_wide_is_an_operators_action(admin_client, operator_client, path, job_types):
    body = {"job_type": "test_noop", "scope": "service"}

    refused = admin_client.post(JOBS + path, body, format="json")
    accepted = operator_client.post(JOBS + path, body, format="json")

    assert refused.status_code == 403 and "platform operator" in refused.json()["detail"]
    assert accepted.status_code == 200 and accepted.json()["scope"] == "service"


def test_pause__service_scope_types_only_by_operators(admin_client, operator_client):
    assert admin_client.post(JOBS + "/pause", {"job_type": "db_optimize"}, format="json").status_code == 403
    response = operator_client.post(JOBS + "/pause", {"job_type": "db_optimize"}, format="json")
    assert response.status_code == 200 and response.json()["scope"] == "service"
    assert admin_client.post(JOBS + "/pause", {"job_type": "noop"}, format="json").status_code == 400


def test_stats__shows_own_and_service_wide_pauses_not_others(
    admin_client, other_admin_client, operator_client, job_types
):
    other_admin_client.post(JOBS + "/pause", {"job_type": "test_noop"}, format="json")
    operator_client.post(JOBS + "/pause", {"job_type": "test_record", "scope": "service"}, format="json")
    admin_client.post(JOBS + "/pause", {"job_type": "test_sleep"}, format="json")

    paused = admin_client.get(JOBS + "/stats").json()["paused_job_types"]

    assert sorted((p["job_type"], p["scope"]) for p in paused) == [
        ("test_record", "service"),
        ("test_sleep", "organization"),
    ]


@pytest.mark.django_db(transaction=True)
def test_pause__real_worker_runs_other_organizations_jobs(admin_client, org, other_org, tmp_path, job_types):
    admin_client.post(JOBS + "/pause", {"job_type": "test_noop"}, format="json")
    held, _ = job_enqueue(organization=org, job_type="test_noop")
    runs, _ = job_enqueue(organization=other_org, job_type="test_noop")

    run_burst("--concurrency", "1", env=worker_env(JOBS_HANDLER_MODULES="tests.job_types"), log_dir=tmp_path)

    held.refresh_from_db()
    runs.refresh_from_db()
    assert (held.status, runs.status) == (JobStatus.QUEUED, JobStatus.COMPLETED)

    admin_client.post(JOBS + "/resume", {"job_type": "test_noop"}, format="json")
    run_burst("--concurrency", "1", env=worker_env(JOBS_HANDLER_MODULES="tests.job_types"), log_dir=tmp_path)

    held.refresh_from_db()
    assert held.status == JobStatus.COMPLETED


@pytest.mark.django_db(transaction=True)
def test_pause__service_wide_holds_every_organization(org, other_org, tmp_path, job_types):
    from jobs.services import job_type_pause

    job_type_pause(job_type="test_noop", organization=None, by="root")
    jobs = [job_enqueue(organization=o, job_type="test_noop")[0] for o in (org, other_org)]

    run_burst("--concurrency", "1", env=worker_env(JOBS_HANDLER_MODULES="tests.job_types"), log_dir=tmp_path)

    assert {BackgroundJob.objects.get(pk=j.pk).status for j in jobs} == {JobStatus.QUEUED}


# --- organization-scope maintenance acts on that organization only -------------------------


@pytest.mark.django_db(transaction=True)
def test_cleanup_and_cache_flush__an_organizations_job_touches_its_own_data_only(org, other_org, tmp_path, settings):
    old = timezone.now() - timedelta(days=400)
    expired = {
        o.pk: job_enqueue(
            organization=o, job_type="email_send", payload={"to": "a@example.com", "subject": "s", "body": "b"}
        )[0]
        for o in (org, other_org)
    }
    BackgroundJob.objects.filter(pk__in=[j.pk for j in expired.values()]).update(
        status=JobStatus.COMPLETED, completed_at=old, updated_at=old
    )
    cache = caches["default"]
    cache.set(org_cache_key(org.pk, "report"), 1, timeout=None)
    cache.set(org_cache_key(other_org.pk, "report"), 2, timeout=None)
    cache.set("service-wide", 3, timeout=None)
    temp = tmp_path / "tmp"
    for owner in (org.pk, other_org.pk):
        (temp / owner).mkdir(parents=True)
        stale = temp / owner / "export.csv"
        stale.write_text("x")
        import os

        os.utime(stale, (old.timestamp(), old.timestamp()))

    clean, _ = job_enqueue(organization=org, job_type="cleanup", payload={"type": "all"})
    flush, _ = job_enqueue(organization=org, job_type="cache_flush", payload={"action": "full"})
    run_burst("--concurrency", "1", env=worker_env(JOBS_TEMP_DIR=str(temp), REDIS_URL=""), log_dir=tmp_path)

    clean.refresh_from_db()
    flush.refresh_from_db()
    assert clean.status == JobStatus.COMPLETED, clean.error_message
    assert clean.result["scope"] == "organization"
    assert clean.result["records_deleted"]["completed_jobs"] == 1
    assert clean.result["files_deleted"] == 1
    assert not BackgroundJob.objects.filter(pk=expired[org.pk].pk).exists()
    assert BackgroundJob.objects.filter(pk=expired[other_org.pk].pk).exists()
    assert not (temp / org.pk / "export.csv").exists() and (temp / other_org.pk / "export.csv").exists()
    assert flush.status == JobStatus.COMPLETED, flush.error_message
    assert flush.result["items_cleared"] == 1
    assert cache.get(org_cache_key(org.pk, "report")) is None
    assert cache.get(org_cache_key(other_org.pk, "report")) == 2
    assert cache.get("service-wide") == 3


def test_rate_limits__counters_survive_a_full_cache_flush(admin_client, settings):
    """The counters live in their own cache alias: a flush of the service's cache leaves them."""
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "job_schedule_write": "2/h"}  # an hour: no window boundary mid-test
    body = {"job_type": "cleanup", "payload": {"type": "all"}, "cron_expression": "@daily"}
    for name in ("a", "b"):
        assert admin_client.post(SCHEDULES, {**body, "name": name}, format="json").status_code == 201
    caches["default"].clear()

    response = admin_client.post(SCHEDULES, {**body, "name": "c"}, format="json")

    assert response.status_code == 429
    assert response.headers["Retry-After"]
