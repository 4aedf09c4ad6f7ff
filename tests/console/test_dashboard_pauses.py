"""Pause and resume per job type from the dashboard: service-wide by platform operators, per
organization by staff allowed to manage pauses; through the services, in the audit log."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.test import Client

from hcm.models import User
from jobs.models import JobTypePause
from jobs.services import job_type_pause

PAUSE = "/admin/jobs/dashboard/pause/"
DASHBOARD = "/admin/jobs/dashboard/"


@pytest.fixture
def pause_staff(db) -> Client:
    """Staff who may manage pauses but is no platform operator."""
    user = User.objects.create_user(username="staff", password=None, is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_backgroundjob", "add_jobtypepause", "delete_jobtypepause", "view_jobtypepause"]
        )
    )
    client = Client()
    client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_pause_and_resume_service_wide__by_a_platform_operator(operator, superuser, org):
    paused = operator.post(PAUSE, {"action": "pause", "job_type": "email_send", "organization": ""}, follow=True)

    pause = JobTypePause.objects.get()
    assert (pause.job_type, pause.organization_id, pause.paused_by) == ("email_send", None, "root")
    assert messages_of(paused) == ["Paused email_send service-wide: its queued jobs wait until it is resumed."]
    row = next(r for r in paused.context["dashboard"].job_types if r.job_type == "email_send")
    assert row.paused_service_wide

    resumed = operator.post(PAUSE, {"action": "resume", "job_type": "email_send"}, follow=True)

    assert not JobTypePause.objects.exists()
    assert messages_of(resumed) == ["Resumed email_send service-wide."]
    assert [(e.object_repr, e.change_message) for e in LogEntry.objects.order_by("pk")] == [
        ("email_send paused service-wide", "Paused from the dashboard."),
        ("email_send paused service-wide", "Resumed from the dashboard."),
    ]
    assert {e.user_id for e in LogEntry.objects.all()} == {superuser.pk}


def test_pause_for_one_organization__by_staff_who_may_manage_pauses(pause_staff, org, other_org):
    pause_staff.post(PAUSE, {"action": "pause", "job_type": "email_send", "organization": org.pk})

    assert list(JobTypePause.objects.values_list("job_type", "organization_id")) == [("email_send", org.pk)]
    page = pause_staff.get(DASHBOARD)
    row = next(r for r in page.context["dashboard"].job_types if r.job_type == "email_send")
    assert row.paused_for == [org.name] and not row.paused_service_wide
    html = page.content.decode()
    assert "paused for 1 organization" in html
    assert "Service-wide (every organization)" not in html  # not theirs to choose
    assert "pause-service-wide" not in html


def test_service_wide_pause__refused_to_staff_who_is_no_platform_operator(pause_staff, org):
    response = pause_staff.post(PAUSE, {"action": "pause", "job_type": "email_send", "organization": ""})

    assert response.status_code == 403
    assert not JobTypePause.objects.exists()


def test_resume_service_wide__refused_to_staff_who_is_no_platform_operator(pause_staff, org):
    job_type_pause(job_type="email_send", organization=None, by="root")

    response = pause_staff.post(PAUSE, {"action": "resume", "job_type": "email_send"})

    assert response.status_code == 403
    assert JobTypePause.objects.count() == 1


def test_service_scope_type__cannot_be_paused_for_an_organization(operator, org):
    response = operator.post(PAUSE, {"action": "pause", "job_type": "db_optimize", "organization": org.pk}, follow=True)

    assert messages_of(response) == ["Not paused: db_optimize acts service-wide only; pause it service-wide."]
    assert not JobTypePause.objects.exists()


def test_dashboard__offers_pause_and_resume_buttons_that_fit_the_state(operator, org):
    job_type_pause(job_type="email_send", organization=None, by="root")

    html = operator.get(DASHBOARD).content.decode()

    assert 'title="Resume email_send service-wide"' in html
    assert 'title="Pause cache_flush service-wide"' in html
    assert 'data-confirm="Pause cache_flush for every organization?' in html


def test_pause__needs_a_post(operator):
    assert operator.get(PAUSE).status_code == 405
