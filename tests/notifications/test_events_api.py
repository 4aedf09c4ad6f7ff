"""POST /api/system/notification-events: the platform reports an event; settings decide."""

import pytest

from jobs.models import BackgroundJob
from notifications.models import Delivery, Notification
from tests.notifications.conftest import configure


@pytest.fixture(autouse=True)
def _email_only(org):
    configure(org, email_enabled=True, email_on_employee_hired=True, sms_enabled=False, slack_enabled=False)


def test_event__fans_out_to_the_system_admins_and_queues_email(admin_client, admin_user, member_user):
    r = admin_client.post(
        "/api/system/notification-events",
        {
            "event": "employee_hired",
            "data": {"employee_name": "Ada Lovelace", "employee_id": "e 42", "position": "CTO"},
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    [n] = r.json()["notifications"]
    assert n["type"] == "employee_hired" and n["title"] == "New hire: Ada Lovelace"
    assert n["message"] == "Ada Lovelace (CTO) has joined Acme."
    assert n["action_url"] == "/employees/e%2042" and n["status"] == "pending"
    assert n["channels"] == ["in_app", "email"]
    [d] = r.json()["deliveries"]
    assert d["channel"] == "email" and d["recipient"] == admin_user.email and d["status"] == "queued"
    assert Notification.objects.get().user == admin_user  # not the member
    job = BackgroundJob.objects.get()
    assert job.job_type == "notification_send" and job.payload == {"delivery_id": d["id"]}
    assert Delivery.objects.get().job == job


def test_event__explicit_recipients(admin_client, member_user):
    r = admin_client.post(
        "/api/system/notification-events",
        {"event": "org_updated", "data": {"changes": ["name"]}, "recipients": [member_user.pk]},
        format="json",
    )
    assert r.status_code == 201, r.content
    assert Notification.objects.get().user == member_user


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"event": "employee_fired", "data": {}}, "event", "Unknown event"),
        ({"data": {}}, "event", "required"),
        ({"event": "employee_hired", "data": {}}, "data.employee_name", "required"),
        ({"event": "employee_hired", "data": {"employee_name": "A", "start_date": "soon"}}, "data.start_date", "Date"),
        ({"event": "employee_hired", "data": ["not", "an", "object"]}, "data", "JSON object"),
        ({"event": "critical_alert", "data": {"details": "no summary"}}, "data.summary", "required"),
        ({"event": "org_updated", "recipients": ["alice"]}, "recipients", "integer"),
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
