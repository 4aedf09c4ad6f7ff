"""notify(): which channels an event goes to, per the organization's toggles, and to whom."""

import pytest

from hcm.models import Role
from notifications.events import InvalidNotification
from notifications.models import Delivery, Notification, NotificationContact
from notifications.services.notify import notification_send_custom, notify
from tests.factories import make_user
from tests.notifications.conftest import configure

EVERYTHING_OFF = {
    "email_enabled": False,
    "email_on_employee_hired": False,
    "email_on_employee_terminated": False,
    "email_on_org_updated": False,
    "email_on_critical_alerts": False,
    "email_on_leave_request": False,
    "email_on_payroll_processed": False,
    "sms_enabled": False,
    "sms_provider": "twilio",
    "sms_from_number": "+15550001111",
    "sms_on_employee_hired": False,
    "sms_on_employee_terminated": False,
    "sms_on_critical_alerts": False,
    "sms_on_leave_approved": False,
    "sms_on_payroll_processed": False,
    "slack_enabled": False,
    "slack_webhook_url": "https://hooks.slack.com/services/T0/B0/abcdefgh",
    "slack_on_critical_alerts": False,
}
EVERYTHING_ON = {k: True for k, v in EVERYTHING_OFF.items() if v is False}

DATA = {
    "employee_hired": {"employee_name": "Ada"},
    "employee_terminated": {"employee_name": "Ada"},
    "org_updated": {},
    "critical_alert": {"summary": "Disk full"},
    "leave_request": {"employee_name": "Ada", "start_date": "2026-12-01", "end_date": "2026-12-05"},
    "leave_approved": {"employee_name": "Ada"},
    "payroll_processed": {"period": "November 2026", "employee_count": 42},
}

# (event, toggles turned on, outbound channels expected); in-app is always on.
FANOUT = [
    ("employee_hired", {"email_enabled", "email_on_employee_hired"}, {"email"}),
    ("employee_hired", {"email_on_employee_hired"}, set()),  # master toggle off
    ("employee_hired", {"email_enabled"}, set()),  # event toggle off
    ("employee_hired", {"email_enabled", "email_on_employee_terminated"}, set()),  # another event's toggle
    ("employee_hired", {"sms_enabled", "sms_on_employee_hired"}, {"sms"}),
    ("employee_hired", {"sms_on_employee_hired"}, set()),
    ("employee_hired", "all", {"email", "sms"}),
    ("employee_terminated", {"email_enabled", "email_on_employee_terminated"}, {"email"}),
    ("employee_terminated", {"sms_enabled", "sms_on_employee_terminated"}, {"sms"}),
    ("employee_terminated", {"sms_enabled", "sms_on_employee_hired"}, set()),
    ("employee_terminated", "all", {"email", "sms"}),
    ("org_updated", {"email_enabled", "email_on_org_updated"}, {"email"}),
    ("org_updated", {"email_enabled"}, set()),
    ("org_updated", "all", {"email"}),  # org_updated has no SMS or Slack toggle
    ("critical_alert", {"email_enabled", "email_on_critical_alerts"}, {"email"}),
    ("critical_alert", {"sms_enabled", "sms_on_critical_alerts"}, {"sms"}),
    ("critical_alert", {"slack_enabled", "slack_on_critical_alerts"}, {"slack"}),
    ("critical_alert", {"slack_on_critical_alerts"}, set()),
    ("critical_alert", {"slack_enabled"}, set()),
    ("critical_alert", "all", {"email", "sms", "slack"}),
    ("critical_alert", "nothing", set()),
    # Seed 002's HR events: email on leave requests and payroll, SMS on leave approvals and payroll.
    ("leave_request", {"email_enabled", "email_on_leave_request"}, {"email"}),
    ("leave_request", {"email_enabled"}, set()),
    ("leave_request", "all", {"email"}),
    ("leave_approved", {"sms_enabled", "sms_on_leave_approved"}, {"sms"}),
    ("leave_approved", {"sms_enabled", "email_enabled"}, set()),
    ("leave_approved", "all", {"sms"}),
    ("payroll_processed", {"email_enabled", "email_on_payroll_processed"}, {"email"}),
    ("payroll_processed", {"sms_enabled", "sms_on_payroll_processed"}, {"sms"}),
    ("payroll_processed", {"sms_enabled", "sms_on_leave_approved"}, set()),
    ("payroll_processed", "all", {"email", "sms"}),
]


@pytest.mark.parametrize(("event", "toggles", "expected"), FANOUT)
def test_fanout__channels_follow_master_and_event_toggles(org, admin_user, event, toggles, expected):
    on = EVERYTHING_ON if toggles == "all" else dict.fromkeys(toggles if toggles != "nothing" else [], True)
    configure(org, **{**EVERYTHING_OFF, **on})
    NotificationContact.objects.create(user=admin_user, phone="+15557654321")

    result = notify(org, event, data=DATA[event])

    [notification] = result.notifications
    assert Notification.objects.filter(user=admin_user, type=event).count() == 1  # in-app, always
    assert {d.channel for d in Delivery.objects.all()} == expected
    assert set(notification.channels) == {"in_app", *expected}
    assert notification.status == ("pending" if expected - {"slack"} else "sent")


def test_fanout__slack_without_a_webhook_url_is_skipped(org, admin_user):
    configure(
        org, **{**EVERYTHING_OFF, "slack_enabled": True, "slack_on_critical_alerts": True, "slack_webhook_url": None}
    )
    notify(org, "critical_alert", data={"summary": "x"})
    assert not Delivery.objects.exists()


def test_fanout__one_slack_post_per_event_one_email_per_recipient(org, admin_user):
    carol = make_user(org, role=Role.SYSTEM_ADMIN, username="carol")
    configure(org, **{**EVERYTHING_OFF, **EVERYTHING_ON, "sms_enabled": False})

    result = notify(org, "critical_alert", data={"summary": "x"})

    assert {n.user for n in result.notifications} == {admin_user, carol}
    emails = Delivery.objects.filter(channel="email")
    assert sorted(emails.values_list("recipient", flat=True)) == sorted([admin_user.email, carol.email])
    [slack] = Delivery.objects.filter(channel="slack")
    assert slack.notification is None and slack.recipient == "https://hooks.slack.com/…efgh"


def test_fanout__users_without_email_or_phone_get_in_app_only(org, admin_user):
    admin_user.email = ""
    admin_user.save()
    configure(org, **{**EVERYTHING_OFF, **EVERYTHING_ON, "slack_enabled": False})
    [n] = notify(org, "employee_hired", data={"employee_name": "Ada"}).notifications
    assert n.channels == ["in_app"] and n.status == "sent"
    assert not Delivery.objects.exists()


def test_recipients__default_to_active_system_admins(org, admin_user, member_user):
    inactive = make_user(org, role=Role.SYSTEM_ADMIN, username="gone")
    inactive.is_active = False
    inactive.save()
    configure(org, **EVERYTHING_OFF)
    result = notify(org, "org_updated", data={})
    assert [n.user for n in result.notifications] == [admin_user]


def test_recipients__another_organizations_user_is_rejected(org, admin_user, other_admin):
    configure(org, **EVERYTHING_OFF)
    with pytest.raises(InvalidNotification) as exc:
        notify(org, "org_updated", data={}, recipients=[admin_user, other_admin.pk])
    assert isinstance(exc.value, ValueError)
    assert list(exc.value.errors) == ["recipients"]
    assert not Notification.objects.exists()


def test_unknown_event__value_error_naming_event(org):
    with pytest.raises(ValueError, match="Unknown event 'payroll_done'"):
        notify(org, "payroll_done", data={})


@pytest.mark.parametrize(
    ("fields", "field"), [({"channels": ["pigeon"]}, "channels"), ({"priority": "urgent"}, "priority")]
)
def test_custom_notification__bad_channel_or_priority_from_code(org, admin_user, fields, field):
    with pytest.raises(InvalidNotification) as exc:
        notification_send_custom(org, title="x", message="", **fields)
    assert list(exc.value.errors) == [field]


def test_hr_events__render_their_data_and_check_it(org, admin_user):
    configure(org, **{**EVERYTHING_OFF, "email_enabled": True, "email_on_leave_request": True})
    [n] = notify(org, "leave_request", data={**DATA["leave_request"], "request_id": "lr-7"}).notifications
    assert n.title == "Leave request: Ada"
    assert "from 2026-12-01 to 2026-12-05" in n.message and n.action_url == "/leave/requests/lr-7"
    [email] = Delivery.objects.filter(channel="email")
    assert "From: 2026-12-01" in email.content["text"]

    [n] = notify(org, "payroll_processed", data=DATA["payroll_processed"]).notifications
    assert n.title == "Payroll processed: November 2026" and "42 employees" in n.message

    with pytest.raises(InvalidNotification) as exc:
        notify(
            org, "leave_request", data={"employee_name": "Ada", "start_date": "2026-12-05", "end_date": "2026-12-01"}
        )
    assert "end_date" in exc.value.errors["data"]


def test_hr_event_toggles__defaults_email_on_sms_off(org):
    from notifications.services.notification_settings import notification_settings_get

    ns = notification_settings_get(organization=org)
    assert (ns.email_on_leave_request, ns.email_on_payroll_processed) == (True, True)
    assert (ns.sms_on_leave_approved, ns.sms_on_payroll_processed) == (False, False)
