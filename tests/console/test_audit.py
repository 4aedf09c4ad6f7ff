"""The operator audit trail: hcm.audit.audit_log and the read-only "Log entries" admin page."""

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.utils import quote
from django.test import RequestFactory

from hcm.audit import audit_log
from jobs.models import JobStatus
from tests.console.conftest import make_job

AUDIT = "/admin/admin/logentry/"


def test_audit_log__records_who_what_and_when(superuser, org):
    job = make_job(org, status=JobStatus.FAILED)
    request = RequestFactory().post("/")
    request.user = superuser

    entry = audit_log(request, job, "Retried from the job list.")

    entry.refresh_from_db()
    assert (entry.user, entry.action_flag, entry.object_id, entry.object_repr) == (superuser, CHANGE, job.pk, str(job))
    assert entry.get_change_message() == "Retried from the job list."
    assert entry.action_time is not None


def test_audit_page__lists_entries_with_user_object_and_message(operator, superuser, org):
    job = make_job(org, status=JobStatus.FAILED)
    request = RequestFactory().post("/")
    request.user = superuser
    audit_log(request, job, "Retried from the job list.")

    html = operator.get(AUDIT).content.decode()

    assert "Retried from the job list." in html
    assert f'href="/admin/jobs/backgroundjob/{quote(job.pk)}/change/"' in html
    assert "root" in html


def test_audit_page__records_ordinary_admin_changes_too(operator, org):
    operator.post(
        f"/admin/hcm/organization/{quote(org.pk)}/change/",
        {
            "name": "Acme Renamed",
            "slug": org.slug,
            "timezone": org.timezone,
            "users-TOTAL_FORMS": 0,
            "users-INITIAL_FORMS": 0,
        },
    )

    entry = LogEntry.objects.get()
    assert entry.object_id == org.pk
    assert "Acme Renamed" in operator.get(AUDIT).content.decode()


def test_audit_page__is_read_only(operator, superuser, org):
    request = RequestFactory().post("/")
    request.user = superuser
    entry = audit_log(request, org, "Looked at it.")

    assert operator.get(AUDIT + "add/").status_code == 403
    assert operator.post(f"{AUDIT}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    change = operator.get(f"{AUDIT}{quote(entry.pk)}/change/")
    assert change.status_code == 200
    assert 'name="_save"' not in change.content.decode()
    assert LogEntry.objects.filter(pk=entry.pk).exists()
