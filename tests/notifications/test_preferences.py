"""Personal preferences: what the organization allows × what the person chooses × critical,
the API over the matrix, and what the fan-out then sends (in bulk)."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hcm.models import Role
from notifications.models import Delivery, DeliveryStatus, Notification, NotificationPreference, PersonalQuietHours
from notifications.preferences import preference_matrix
from notifications.services.notification_settings import notification_settings_get
from notifications.services.notify import notify
from notifications.services.preferences import preference_set
from tests.factories import make_user
from tests.notifications.conftest import configure

pytestmark = pytest.mark.django_db

EMAIL_ON = {"email_enabled": True, "email_on_employee_hired": True, "email_on_critical_alerts": True}
EMAIL_OFF = {"email_enabled": True, "email_on_employee_hired": False, "email_on_critical_alerts": False}


def cell(user, event, channel):
    settings = notification_settings_get(organization=user.organization)
    [c] = [c for c in preference_matrix(user=user, settings=settings) if (c.event, c.channel) == (event, channel)]
    return c


# (event, channel, organization sends it, person's choice or None, expected chosen, expected effective)
RESOLUTION = [
    ("employee_hired", "email", True, None, True, True),  # nobody chose: on
    ("employee_hired", "email", True, False, False, False),  # the person turned it off
    ("employee_hired", "email", False, None, True, False),  # the organization does not send it
    ("employee_hired", "email", False, False, False, False),
    ("employee_hired", "in_app", True, None, True, True),
    ("employee_hired", "in_app", True, False, False, False),  # in-app can be muted ...
    ("critical_alert", "in_app", True, False, True, True),  # ... except critical alerts
    ("critical_alert", "email", True, False, False, False),  # critical email can be muted
    ("critical_alert", "email", False, None, True, False),
    ("employee_hired", "sms", False, None, True, False),  # SMS off for the organization
]


@pytest.mark.parametrize("event, channel, org_sends, choice, chosen, effective", RESOLUTION)
def test_resolution__organization_times_person_times_critical(
    org, member_user, event, channel, org_sends, choice, chosen, effective
):
    configure(org, **(EMAIL_ON if org_sends else EMAIL_OFF), sms_enabled=False)
    if choice is not None:
        NotificationPreference.objects.create(user=member_user, event=event, channel=channel, enabled=choice)
    c = cell(member_user, event, channel)
    assert (c.allowed, c.chosen, c.effective) == (org_sends, chosen, effective)
    assert c.locked == (event == "critical_alert" and channel == "in_app")


def test_api__get_lists_every_event_and_personal_channel(org, member_client):
    configure(org, **EMAIL_ON)
    body = member_client.get("/api/notifications/preferences").json()
    cells = {(i["event"], i["channel"]): i for i in body["items"]}
    assert {c for _, c in cells} == {"in_app", "email", "sms"}
    assert {e for e, _ in cells} == {"employee_hired", "employee_terminated", "org_updated", "critical_alert"}
    assert cells[("employee_hired", "email")] == {
        "event": "employee_hired",
        "channel": "email",
        "allowed": True,
        "chosen": True,
        "effective": True,
        "locked": False,
    }
    assert body["quiet_hours"] == {"start": None, "end": None, "timezone": None}
    assert member_client.get("/api/notifications/preferences/").status_code == 200  # slash form, no redirect


def test_api__patch_changes_the_matrix(org, member_client, member_user):
    configure(org, **EMAIL_ON)
    response = member_client.patch(
        "/api/notifications/preferences",
        {
            "changes": [
                {"event": "employee_hired", "channel": "email", "enabled": False},
                {"event": "employee_hired", "channel": "in_app", "enabled": False},
            ],
            "quiet_hours": {"start": "21:00", "end": "07:00", "timezone": "Europe/Berlin"},
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    cells = {(i["event"], i["channel"]): i for i in response.json()["items"]}
    assert cells[("employee_hired", "email")]["chosen"] is False
    assert cells[("employee_hired", "email")]["effective"] is False
    assert cells[("employee_hired", "in_app")]["effective"] is False
    assert response.json()["quiet_hours"] == {"start": "21:00", "end": "07:00", "timezone": "Europe/Berlin"}
    # Back on: stored as no row at all.
    member_client.patch(
        "/api/notifications/preferences",
        {"changes": [{"event": "employee_hired", "channel": "email", "enabled": True}]},
        format="json",
    )
    assert cell(member_user, "employee_hired", "email").effective is True


@pytest.mark.parametrize(
    "change, field, words",
    [
        ({"event": "payroll_closed", "channel": "email", "enabled": False}, "changes[1].event", "Unknown event"),
        ({"event": "employee_hired", "channel": "pigeon", "enabled": False}, "changes[1].channel", "Unknown channel"),
        ({"event": "employee_hired", "channel": "sms", "enabled": True}, "changes[1]", "turned off by your"),
        ({"event": "critical_alert", "channel": "in_app", "enabled": False}, "changes[1]", "cannot be muted in-app"),
    ],
)
def test_api__a_bad_cell_is_a_400_naming_it_and_nothing_changes(org, member_client, member_user, change, field, words):
    configure(org, **EMAIL_ON, sms_enabled=False)
    ok = {"event": "employee_hired", "channel": "email", "enabled": False}
    response = member_client.patch("/api/notifications/preferences", {"changes": [ok, change]}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert field in body["errors"] and words in body["errors"][field][0]
    assert field in body["detail"]
    assert not NotificationPreference.objects.filter(user=member_user).exists()  # the good change was not saved


@pytest.mark.parametrize(
    "body, field",
    [
        ({"quiet_hours": {"start": "25:00", "end": "07:00"}}, "quiet_hours.start"),
        ({"quiet_hours": {"start": "22:00"}}, "quiet_hours"),
        ({"quiet_hours": {"timezone": "Mars/Olympus"}}, "quiet_hours.timezone"),
        ({"changes": [{"event": "employee_hired", "channel": "email"}]}, "changes"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_api__bad_fields_are_400_naming_them(member_client, body, field):
    response = member_client.patch("/api/notifications/preferences", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["detail"]


def test_api__needs_a_signed_in_member(client):
    assert client.get("/api/notifications/preferences").status_code == 401


# --- what the fan-out sends -------------------------------------------------------------


def test_fanout__a_person_who_muted_email_gets_no_email_others_do(org, admin_user):
    configure(org, **EMAIL_ON)
    other = make_user(org, role=Role.SYSTEM_ADMIN, username="carol")
    preference_set(user=admin_user, event="employee_hired", channel="email", enabled=False)
    notify(org, "employee_hired", data={"employee_name": "Ada"})
    assert set(Delivery.objects.values_list("user__username", flat=True)) == {"carol"}
    assert Notification.objects.filter(user__in=[admin_user, other]).count() == 2


def test_fanout__muted_in_app_means_no_notification_but_email_still_goes(org, admin_user):
    configure(org, **EMAIL_ON)
    preference_set(user=admin_user, event="employee_hired", channel="in_app", enabled=False)
    notify(org, "employee_hired", data={"employee_name": "Ada"})
    assert not Notification.objects.filter(user=admin_user).exists()
    [email] = Delivery.objects.filter(user=admin_user)
    assert email.channel == "email" and email.notification_id is None


def test_fanout__critical_alerts_reach_in_app_even_when_muted(org, admin_user):
    configure(org, **EMAIL_ON)
    NotificationPreference.objects.create(user=admin_user, event="critical_alert", channel="in_app", enabled=False)
    NotificationPreference.objects.create(user=admin_user, event="critical_alert", channel="email", enabled=False)
    notify(org, "critical_alert", data={"summary": "Disk full"})
    assert Notification.objects.filter(user=admin_user, type="critical_alert").count() == 1
    assert not Delivery.objects.filter(user=admin_user).exists()


def test_fanout__personal_quiet_hours_defer_on_top_of_the_organization(org, admin_user, monkeypatch):
    configure(org, **EMAIL_ON, digest_do_not_disturb=False)
    other = make_user(org, role=Role.SYSTEM_ADMIN, username="carol")
    # 21:30 UTC is 22:30 in Berlin: inside alice's 22:00–07:00; carol has no quiet hours.
    PersonalQuietHours.objects.create(user=admin_user, start="22:00", end="07:00", timezone="Europe/Berlin")
    at = datetime(2026, 6, 1, 20, 30, tzinfo=UTC)  # 22:30 CEST
    monkeypatch.setattr("notifications.services.notify.timezone.now", lambda: at)
    notify(org, "employee_hired", data={"employee_name": "Ada"})
    mine = Delivery.objects.get(user=admin_user)
    assert mine.status == DeliveryStatus.DEFERRED
    assert mine.deferred_until == datetime(2026, 6, 2, 5, 0, tzinfo=UTC)  # 07:00 CEST
    assert Delivery.objects.get(user=other).status == DeliveryStatus.QUEUED
    # Critical alerts never wait.
    notify(org, "critical_alert", data={"summary": "Disk full"})
    assert Delivery.objects.get(user=admin_user, event="critical_alert").status == DeliveryStatus.QUEUED


def test_fanout__in_app_to_1000_recipients_is_a_bounded_number_of_queries(org, django_assert_max_num_queries):
    configure(org, email_enabled=False)
    from hcm.models import User

    User.objects.bulk_create(
        [User(username=f"q{i}", organization=org, role=Role.MEMBER, password="!") for i in range(1000)]
    )
    ids = list(User.objects.filter(organization=org, username__startswith="q").values_list("pk", flat=True))
    with django_assert_max_num_queries(40):
        notify(org, "employee_hired", data={"employee_name": "Ada"}, recipients=ids)
    assert Notification.objects.count() == 1000


def test_fanout__reads_preferences_in_bulk_for_1000_recipients(org):
    configure(org, **EMAIL_ON)
    from django.contrib.auth.hashers import make_password

    from hcm.models import User

    password = make_password("x")
    User.objects.bulk_create(
        [
            User(username=f"p{i}", email=f"p{i}@acme.test", organization=org, role=Role.MEMBER, password=password)
            for i in range(1000)
        ]
    )
    users = list(User.objects.filter(organization=org, username__startswith="p"))
    NotificationPreference.objects.bulk_create(
        [NotificationPreference(user=u, event="employee_hired", channel="email", enabled=False) for u in users[:100]]
        + [NotificationPreference(user=u, event="employee_hired", channel="in_app", enabled=False) for u in users[-10:]]
    )
    PersonalQuietHours.objects.bulk_create(
        [PersonalQuietHours(user=u, start="00:00", end="23:59", timezone="UTC") for u in users[200:300]]
    )
    with CaptureQueriesContext(connection) as queries:
        notify(org, "employee_hired", data={"employee_name": "Ada"}, recipients=[u.pk for u in users])
    preference_queries = [
        q["sql"]
        for q in queries
        if "notification_preferences" in q["sql"] or "notification_personal_quiet_hours" in q["sql"]
    ]
    assert len(preference_queries) == 2, preference_queries  # one per table, not one per person
    # Everything but the job queue is bounded: batched inserts, no query per person. Each
    # delivery's notification_send job is still its own INSERT (in a savepoint) in
    # notifications.services.deliveries — the job queue's cost, not the preferences'.
    per_job = [q for q in queries if "background_jobs" in q["sql"] or "SAVEPOINT" in q["sql"]]
    assert len(queries) - len(per_job) <= 60, [q["sql"][:80] for q in queries if q not in per_job]
    assert Notification.objects.count() == 990
    assert Delivery.objects.filter(channel="email").count() == 900
    assert Delivery.objects.filter(status=DeliveryStatus.DEFERRED).count() == 100
