"""/api/notifications: each user sees and changes only their own notifications."""

from datetime import timedelta

import pytest
from django.utils import timezone

from hcm.models import Role
from notifications.models import Notification
from notifications.services.notify import notification_send_custom
from tests.conftest import client_for
from tests.factories import make_user
from tests.notifications.conftest import ALL_CHANNELS_OFF, configure


@pytest.fixture(autouse=True)
def _in_app_only(org, other_org):
    configure(org, **ALL_CHANNELS_OFF)
    configure(other_org, **ALL_CHANNELS_OFF)


def send(org, user, title: str, *, type: str = "custom", minutes_ago: int = 0) -> Notification:
    [n] = notification_send_custom(
        org, title=title, message=f"about {title}", type=type, recipients=[user]
    ).notifications
    if minutes_ago:
        Notification.objects.filter(pk=n.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))
    return n


def test_list__own_notifications_newest_first_in_the_list_shape(member_client, member_user, admin_user, org):
    send(org, member_user, "older", minutes_ago=5)
    send(org, member_user, "newer")
    send(org, admin_user, "not bob's")

    r = member_client.get("/api/notifications")

    assert r.status_code == 200, r.content
    body = r.json()
    assert set(body) == {"items", "total", "total_exact", "skip", "limit", "next"}
    assert body["total"] == 2 and body["skip"] == 0 and body["limit"] == 50
    assert [n["title"] for n in body["items"]] == ["newer", "older"]
    item = body["items"][0]
    assert item["status"] == "sent" and item["read_at"] is None and item["channels"] == ["in_app"]
    assert item["id"].startswith("ntf_") and item["message"] == "about newer" and item["priority"] == "normal"


def test_list__filters_and_paginates(member_client, member_user, org):
    for i in range(3):
        send(org, member_user, f"hire {i}", type="hiring", minutes_ago=10 - i)
    read = send(org, member_user, "policy", type="policy")
    member_client.patch(f"/api/notifications/{read.pk}/read")

    assert [n["title"] for n in member_client.get("/api/notifications?type=hiring&limit=2").json()["items"]] == [
        "hire 2",
        "hire 1",
    ]
    assert member_client.get("/api/notifications?type=hiring&skip=2").json()["items"][0]["title"] == "hire 0"
    unread = member_client.get("/api/notifications?unread_only=true").json()
    assert unread["total"] == 3 and all(n["read_at"] is None for n in unread["items"])
    assert member_client.get("/api/notifications?unread_only=false").json()["total"] == 4


@pytest.mark.parametrize(
    ("query", "field"), [("unread_only=maybe", "unread_only"), ("limit=0", "limit"), ("skip=-1", "skip")]
)
def test_list__bad_query__400_names_the_field(member_client, query, field):
    r = member_client.get(f"/api/notifications?{query}")
    assert r.status_code == 400
    assert field in r.json()["errors"] and field in r.json()["detail"]


def test_unread_count_read_and_read_all(member_client, member_user, admin_user, org):
    first, second, third = (send(org, member_user, t) for t in ("a", "b", "c"))
    send(org, admin_user, "admin's own")
    assert member_client.get("/api/notifications/unread/count").json() == {"count": 3}

    r = member_client.patch(f"/api/notifications/{first.pk}/read")
    assert r.status_code == 200 and r.json()["status"] == "read" and r.json()["read_at"]
    assert member_client.patch(f"/api/notifications/{first.pk}/read/").status_code == 200  # again: no-op
    assert member_client.get("/api/notifications/unread/count").json() == {"count": 2}

    assert member_client.patch("/api/notifications/read-all").json() == {"updated": 2}
    assert member_client.patch("/api/notifications/read-all").json() == {"updated": 0}
    assert member_client.get("/api/notifications/unread/count").json() == {"count": 0}
    assert Notification.objects.get(user=admin_user).read_at is None  # nobody else's


def test_stats__counts_by_state_and_type(member_client, member_user, org):
    send(org, member_user, "x", type="hiring")
    send(org, member_user, "y", type="hiring")
    read = send(org, member_user, "z", type="policy")
    member_client.patch(f"/api/notifications/{read.pk}/read")
    failed = send(org, member_user, "w", type="policy")
    Notification.objects.filter(pk=failed.pk).update(status="failed")

    assert member_client.get("/api/notifications/stats").json() == {
        "total": 4,
        "unread": 3,
        "read": 1,
        "failed": 1,
        "by_type": {"hiring": 2, "policy": 2},
    }


def test_delete__own_204_then_gone(member_client, member_user, org):
    n = send(org, member_user, "bye")
    assert member_client.delete(f"/api/notifications/{n.pk}").status_code == 204
    assert member_client.delete(f"/api/notifications/{n.pk}").status_code == 404
    assert not Notification.objects.filter(pk=n.pk).exists()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/notifications/{id}"),
        ("patch", "/api/notifications/{id}/read"),
        ("delete", "/api/notifications/{id}"),
    ],
)
def test_someone_elses_notification__404_and_untouched(
    method, path, member_client, admin_user, other_admin, org, other_org
):
    same_org = send(org, admin_user, "alice's")
    other = send(other_org, other_admin, "mallory's")
    for n in (same_org, other):
        r = getattr(member_client, method)(path.format(id=n.pk))
        assert r.status_code == 404 and r.json() == {"detail": "Not found."}
    assert Notification.objects.filter(read_at__isnull=True).count() == 2


def test_anonymous__401(client):
    assert client.get("/api/notifications").status_code == 401


def test_create__system_admin_sends_to_users_of_the_org(admin_client, member_user, org):
    r = admin_client.post(
        "/api/notifications",
        {
            "recipients": [member_user.pk],
            "title": "Office closed Friday",
            "message": "<b>Enjoy</b>",
            "priority": "high",
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    [n] = r.json()["notifications"]
    assert n["title"] == "Office closed Friday" and n["type"] == "custom" and n["priority"] == "high"
    assert r.json()["deliveries"] == []
    bob = client_for(member_user).get("/api/notifications").json()
    assert [i["message"] for i in bob["items"]] == ["<b>Enjoy</b>"]


def test_create__default_recipients_are_the_system_admins(admin_client, admin_user, member_user, org):
    second_admin = make_user(org, role=Role.SYSTEM_ADMIN, username="carol")
    r = admin_client.post("/api/notifications", {"title": "Hello admins"}, format="json")
    assert r.status_code == 201
    assert set(Notification.objects.values_list("user_id", flat=True)) == {admin_user.pk, second_admin.pk}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "x", "recipients": "OTHER"}, "recipients"),
        ({"title": "x", "recipients": []}, "recipients"),
        ({"title": "x", "channels": ["email"]}, "channels"),
        ({"title": "x", "channels": ["pigeon"]}, "channels"),
        ({"title": "x", "type": "employee_hired"}, "type"),
        ({"title": "x", "action_url": "javascript:alert(1)"}, "action_url"),
        ({"message": "no title"}, "title"),
        ({"title": "x", "metadata": {"blob": "x" * 20000}}, "metadata"),
    ],
)
def test_create__bad_input__400_names_the_field(admin_client, other_admin, body, field):
    if body.get("recipients") == "OTHER":
        body = {**body, "recipients": [other_admin.pk]}
    r = admin_client.post("/api/notifications", body, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json()["errors"], r.json()
    assert not Notification.objects.exists()


def test_create__member__403(member_client):
    assert member_client.post("/api/notifications", {"title": "x"}, format="json").status_code == 403


def test_contact__set_own_phone(member_client, member_user):
    assert member_client.get("/api/notifications/contact").json()["phone"] is None
    r = member_client.put("/api/notifications/contact", {"phone": "555-1234"}, format="json")
    assert r.status_code == 400 and "phone" in r.json()["errors"]
    r = member_client.put("/api/notifications/contact", {"phone": "+15557654321"}, format="json")
    assert r.status_code == 200 and r.json()["phone"] == "+15557654321"
    assert member_user.notification_contact.phone == "+15557654321"
