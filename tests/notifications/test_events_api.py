"""POST /api/system/notification-events: the platform reports an event; settings decide."""

import pytest

from hcm.models import User
from jobs.models import BackgroundJob, JobPriority
from jobs.services import job_enqueue
from jobs.worker import Worker
from notifications.models import Delivery, Notification
from tests.notifications.conftest import configure, run_worker_burst

# The worker's threads use their own connections: they see committed rows only.
WITH_WORKER = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _email_only(org):
    configure(org, email_enabled=True, email_on_employee_hired=True, sms_enabled=False, slack_enabled=False)


@WITH_WORKER
def test_event__202_with_the_job__a_worker_fans_it_out_and_the_email_arrives(
    admin_client, admin_user, member_user, delivery_settings, smtp
):
    r = admin_client.post(
        "/api/system/notification-events",
        {
            "event": "employee_hired",
            "data": {"employee_name": "Ada Lovelace", "employee_id": "e 42", "position": "CTO"},
        },
        format="json",
    )
    assert r.status_code == 202, r.content
    body = r.json()
    job = BackgroundJob.objects.get()
    assert body == {
        "job_id": job.pk,
        "status": "queued",
        "event": "employee_hired",
        "recipient_count": 1,
        "job_url": f"/api/system/background-jobs/{job.pk}",
    }
    assert r["Location"] == body["job_url"]
    assert job.job_type == "notification_fanout" and job.priority == JobPriority.MEDIUM
    assert job.payload["recipient_ids"] is None  # the system admins, as they are when it runs
    assert not Notification.objects.exists()  # nothing yet: the job does it

    run_worker_burst()

    [n] = Notification.objects.all()
    assert n.user == admin_user  # not the member
    assert n.type == "employee_hired" and n.title == "New hire: Ada Lovelace"
    assert n.message == "Ada Lovelace (CTO) has joined Acme." and n.action_url == "/employees/e%2042"
    assert n.channels == ["in_app", "email"]
    [d] = Delivery.objects.all()
    assert d.channel == "email" and d.recipient == admin_user.email and d.status == "sent"
    assert d.job.job_type == "notification_send" and d.job.payload == {"delivery_id": d.pk}
    assert d.job.created_by == admin_user.username
    [message] = smtp.messages
    assert message["To"] == admin_user.email and message["Subject"] == "New hire: Ada Lovelace"
    assert "Hello" in message.get_body(("plain",)).get_content()

    # The job, as its organization's admins see it: done, with its counts and trigger.
    watched = admin_client.get(body["job_url"])
    assert watched.status_code == 200, watched.content
    job_seen = watched.json()
    assert job_seen["status"] == "completed" and job_seen["job_type"] == "notification_fanout"
    assert job_seen["result"] == {"recipients": 1, "notifications": 1, "deliveries": 1}
    assert (job_seen["processed"], job_seen["succeeded"], job_seen["failed"]) == (1, 1, 0)
    assert (job_seen["trigger"], job_seen["trigger_id"]) == ("user", admin_user.username)


@WITH_WORKER
def test_event__explicit_recipients(admin_client, member_user):
    r = admin_client.post(
        "/api/system/notification-events",
        {"event": "org_updated", "data": {"changes": ["name"]}, "recipients": [member_user.pk, member_user.pk]},
        format="json",
    )
    assert r.status_code == 202, r.content
    assert r.json()["recipient_count"] == 1
    assert BackgroundJob.objects.get().payload["recipient_ids"] == [member_user.pk]
    run_worker_burst()
    assert Notification.objects.get().user == member_user


@WITH_WORKER
def test_event__critical_alert_to_many_people__one_notification_and_email_each(admin_client, org, delivery_settings):
    configure(org, email_on_critical_alerts=True)
    users = User.objects.bulk_create(
        [User(username=f"p{i}", email=f"p{i}@acme.test", organization=org, role="member") for i in range(1500)]
    )
    ids = list(User.objects.filter(username__startswith="p").values_list("pk", flat=True))
    r = admin_client.post(
        "/api/system/notification-events",
        {"event": "critical_alert", "data": {"summary": "Disk full"}, "recipients": ids},
        format="json",
    )
    assert r.status_code == 202, r.content
    assert r.json()["recipient_count"] == len(users)
    job = BackgroundJob.objects.get()
    assert job.priority == JobPriority.HIGH

    Worker(concurrency=1, burst=True, poll_interval=0.01, listen=False, job_types=["notification_fanout"]).run()

    job.refresh_from_db()
    assert job.status == "completed", job.error_message
    assert job.result == {"recipients": 1500, "notifications": 1500, "deliveries": 1500}
    assert Notification.objects.filter(type="critical_alert").count() == 1500
    emails = Delivery.objects.filter(channel="email", status="queued", job__job_type="notification_send_batch")
    assert emails.count() == 1500
    # One send job per NOTIFICATIONS_SEND_BATCH_SIZE (100) deliveries.
    assert BackgroundJob.objects.filter(job_type="notification_send_batch").count() == 15
    assert set(emails.values_list("recipient", flat=True)) == {f"p{i}@acme.test" for i in range(1500)}


@WITH_WORKER
def test_event__a_payload_naming_another_organization_is_refused(org, other_org, admin_user):
    job, _ = job_enqueue(
        organization=org,
        job_type="notification_fanout",
        payload={"organization_id": other_org.pk, "event": "org_updated", "data": {}, "recipient_ids": None},
    )
    run_worker_burst()
    job.refresh_from_db()
    assert job.status == "failed" and job.attempt == 1  # not retried
    assert f"cannot notify organization {other_org.pk}" in job.error_message
    assert not Notification.objects.filter(type="org_updated").exists()


@WITH_WORKER
def test_event__a_recipient_gone_before_the_job_runs__job_fails_and_nothing_is_sent(admin_client, member_user):
    r = admin_client.post(
        "/api/system/notification-events", {"event": "org_updated", "recipients": [member_user.pk]}, format="json"
    )
    assert r.status_code == 202
    member_user.is_active = False
    member_user.save()
    run_worker_burst()
    job = BackgroundJob.objects.get(job_type="notification_fanout")
    assert job.status == "failed" and job.attempt == 1
    assert "Not active users of this organization" in job.error_message
    assert not Notification.objects.filter(type="org_updated").exists()


@WITH_WORKER
def test_event__a_fan_out_run_again_after_it_committed_notifies_nobody_twice(admin_client, admin_user):
    r = admin_client.post("/api/system/notification-events", {"event": "org_updated"}, format="json")
    run_worker_burst()
    job = BackgroundJob.objects.get(pk=r.json()["job_id"])
    assert job.status == "completed" and Notification.objects.count() == 1
    # As if the worker had died after the commit, before recording the job as done.
    BackgroundJob.objects.filter(pk=job.pk).update(status="queued", result={"fanned_out": True})
    run_worker_burst()
    job.refresh_from_db()
    assert job.status == "completed" and job.result == {"skipped": "already fanned out"}
    assert Notification.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"event": "employee_fired", "data": {}}, "event", "Unknown event"),
        ({"data": {}}, "event", "required"),
        ({"event": "employee_hired", "data": {}}, "data.employee_name", "required"),
        ({"event": "employee_hired", "data": {"employee_name": "A", "start_date": "soon"}}, "data.start_date", "Date"),
        ({"event": "employee_hired", "data": ["not", "an", "object"]}, "data", "JSON object"),
        ({"event": "critical_alert", "data": {"details": "no summary"}}, "data.summary", "required"),
        ({"event": "org_updated", "recipients": ["alice"]}, "recipients.0", "integer"),
        ({"event": "org_updated", "recipients": [1, True]}, "recipients.1", "integer"),
        ({"event": "org_updated", "recipients": [1, 10**20]}, "recipients.1", "out of range"),
        ({"event": "org_updated", "recipients": []}, "recipients", "at least one"),
        ({"event": "org_updated", "recipients": 7}, "recipients", "list"),
        ({"event": "org_updated", "recipients": [1] * 50_001}, "recipients", "At most 50000"),
        ({"event": "org_updated", "recipients": "OTHER"}, "recipients", "Not active users of this organization"),
    ],
)
def test_event__bad_input__400_names_the_field(admin_client, other_admin, body, field, message):
    if body.get("recipients") == "OTHER":
        body = {**body, "recipients": [other_admin.pk]}
    r = admin_client.post("/api/system/notification-events", body, format="json")
    assert r.status_code == 400, r.content
    assert r.json()["detail"].startswith(f"Invalid {field}"), r.json()
    assert message in r.json()["detail"]
    assert not Notification.objects.exists() and not BackgroundJob.objects.exists()


def test_event__member__403(member_client):
    r = member_client.post("/api/system/notification-events", {"event": "org_updated"}, format="json")
    assert r.status_code == 403


def test_event_catalog__lists_events_and_their_channels(admin_client):
    items = {e["event"]: e for e in admin_client.get("/api/system/notification-events").json()["items"]}
    assert set(items) >= {"employee_hired", "employee_terminated", "org_updated", "critical_alert"}
    assert items["critical_alert"]["channels"] == ["in_app", "email", "sms", "slack", "teams"]
    assert items["org_updated"]["toggles"] == {"email": "email_on_org_updated"}


def test_event__more_recipients_than_a_default_sqlite_build_takes_parameters__checked_in_chunks(admin_client, org):
    # SQLite's default limit is 32,766 parameters a statement (some builds raise it).
    User.objects.bulk_create(
        [User(username=f"m{i}", organization=org, role="member", password="!") for i in range(33_000)],
        batch_size=5000,
    )
    ids = list(User.objects.filter(username__startswith="m").values_list("pk", flat=True))
    r = admin_client.post("/api/system/notification-events", {"event": "org_updated", "recipients": ids}, format="json")
    assert r.status_code == 202, r.content
    assert r.json()["recipient_count"] == 33_000
