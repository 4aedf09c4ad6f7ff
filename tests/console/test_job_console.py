"""The job pages of the operator console: search, filters, action buttons, bulk actions by
filter, the create form, ids as operators paste them. (The browser tests are in
test_console_browser.py.)"""

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import quote
from django.utils import timezone

from jobs.models import BackgroundJob, JobAttempt, JobPriority, JobStatus
from tests.console.conftest import make_attempt, make_job

JOBS = "/admin/jobs/backgroundjob/"


def shown(response) -> set[str]:
    return {j.pk for j in response.context["cl"].result_list}


# --- search -------------------------------------------------------------------------------


def test_search__a_pasted_id_opens_the_job(operator, org):
    job = make_job(org)

    for pasted in [job.pk, f"  {job.pk} ", quote(job.pk)]:  # raw, with spaces, as the address bar has it
        response = operator.get(JOBS, {"q": pasted})
        assert response.status_code == 302, pasted
        assert response["Location"] == f"{JOBS}{quote(job.pk)}/change/"


def test_search__by_idempotency_key_payload_text_and_error_text(operator, org):
    keyed = make_job(org, idempotency_key="payroll-2026-11")
    in_payload = make_job(org, payload={"to": "Carol@Example.com"})
    in_error = make_job(org, status=JobStatus.FAILED, error_message="SMTPRecipientsRefused: carol@example.com")
    make_job(org, payload={"to": "dave@example.com"})

    assert shown(operator.get(JOBS, {"q": "payroll-2026-11"})) == {keyed.pk}
    assert shown(operator.get(JOBS, {"q": "carol@example"})) == {in_payload.pk, in_error.pk}
    assert shown(operator.get(JOBS, {"q": "SMTPRecipients"})) == {in_error.pk}


def test_change_url__with_the_raw_id_finds_the_job(operator, org):
    # "_22" reads as an escaped '"' to the admin: the raw id must still open the job.
    job = make_job(org)
    BackgroundJob.objects.filter(pk=job.pk).update(id="job_22ab5f0011223344")

    response = operator.get(f"{JOBS}job_22ab5f0011223344/change/")

    assert response.status_code == 200
    assert response.context["original"].pk == "job_22ab5f0011223344"


def test_change_page__shows_the_real_id_with_a_copy_button(operator, org):
    job = make_job(org)

    html = operator.get(f"{JOBS}{quote(job.pk)}/change/").content.decode()

    assert f'data-copy="{job.pk}"' in html
    assert f"<code>{job.pk}</code>" in html


# --- filters --------------------------------------------------------------------------------


def test_filter__failed_in_the_last_hour_and_day(operator, org):
    now = timezone.now()
    recent = make_job(org, status=JobStatus.FAILED, completed_at=now - timedelta(minutes=10))
    today = make_job(org, status=JobStatus.FAILED, completed_at=now - timedelta(hours=5))
    make_job(org, status=JobStatus.FAILED, completed_at=now - timedelta(days=3))
    make_job(org, status=JobStatus.COMPLETED, completed_at=now - timedelta(minutes=5))

    assert shown(operator.get(JOBS, {"recent": "failed_1h"})) == {recent.pk}
    assert shown(operator.get(JOBS, {"recent": "failed_24h"})) == {recent.pk, today.pk}


def test_filter__running_longer_than_its_timeout(operator, org):
    now = timezone.now()  # noop's timeout is 10 s
    overdue = make_job(org, status=JobStatus.PROCESSING, started_at=now - timedelta(seconds=30))
    make_job(org, status=JobStatus.PROCESSING, started_at=now - timedelta(seconds=2))
    make_job(org, status=JobStatus.COMPLETED, started_at=now - timedelta(minutes=5))

    assert shown(operator.get(JOBS, {"overdue": "yes"})) == {overdue.pk}


def test_list__times_are_relative_with_the_exact_second_on_hover(operator, org):
    job = make_job(org, status=JobStatus.COMPLETED, completed_at=timezone.now() - timedelta(minutes=3))

    html = operator.get(JOBS).content.decode()

    assert f'title="{timezone.localtime(job.completed_at).strftime("%Y-%m-%d %H:%M:%S %Z")}">3 min ago</time>' in html


# --- a job's action buttons -----------------------------------------------------------------


def buttons(operator, job: BackgroundJob) -> set[str]:
    html = operator.get(f"{JOBS}{quote(job.pk)}/change/").content.decode()
    return {name for name in ["cancel", "retry", "run_now", "delete"] if f"job-action-{name}" in html}


@pytest.mark.parametrize(
    "status, fields, expected",
    [
        (JobStatus.QUEUED, {}, {"cancel", "delete"}),
        (JobStatus.QUEUED, {"run_at": timezone.now() + timedelta(hours=1)}, {"cancel", "run_now", "delete"}),
        (JobStatus.PROCESSING, {}, {"cancel"}),
        (JobStatus.FAILED, {}, {"retry", "delete"}),
        (JobStatus.CANCELLED, {}, {"retry", "delete"}),
        (JobStatus.COMPLETED, {}, {"delete"}),
    ],
)
def test_job_page__shows_only_the_buttons_that_apply(operator, org, status, fields, expected):
    assert buttons(operator, make_job(org, status=status, **fields)) == expected


def test_job_button__asks_first_then_acts_and_records_it(operator, superuser, org):
    job = make_job(org, status=JobStatus.FAILED, error_message="boom", retry_count=3)
    url = f"{JOBS}{quote(job.pk)}/do/retry/"

    confirm = operator.get(url)
    job.refresh_from_db()
    assert confirm.status_code == 200 and job.status == JobStatus.FAILED  # nothing done yet
    assert "Yes, retry" in confirm.content.decode()

    done = operator.post(url, follow=True)

    job.refresh_from_db()
    assert (job.status, job.retry_count, job.error_message) == (JobStatus.QUEUED, 0, None)
    assert [str(m) for m in done.context["messages"]] == [f"Job {job.pk} queued again."]
    entry = LogEntry.objects.get(object_id=job.pk)
    assert (entry.user_id, entry.change_message) == (superuser.pk, "Admin action: queued again.")


def test_job_button__that_no_longer_applies_does_nothing(operator, org):
    job = make_job(org, status=JobStatus.COMPLETED)

    response = operator.post(f"{JOBS}{quote(job.pk)}/do/cancel/", follow=True)

    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert "does not apply" in [str(m) for m in response.context["messages"]][0]
    assert not LogEntry.objects.exists()


# --- bulk by filter -----------------------------------------------------------------------


def test_bulk_retry__confirmation_states_the_count_then_requeues_in_batches_with_one_audit_entry(
    operator, superuser, org, other_org
):
    mine = [make_job(org, status=JobStatus.FAILED, error_message="boom") for _ in range(5)]
    make_job(other_org, status=JobStatus.FAILED)
    make_job(org, status=JobStatus.COMPLETED)
    url = f"{JOBS}bulk/retry/?organization__id__exact={org.pk}"

    page = operator.get(url)
    assert page.status_code == 200
    assert page.context["count"] == 5
    assert '<strong id="bulk-count">5</strong>' in page.content.decode()

    done = operator.post(url, follow=True)

    assert {j.status for j in BackgroundJob.objects.filter(pk__in=[j.pk for j in mine])} == {JobStatus.QUEUED}
    assert BackgroundJob.objects.filter(organization=other_org, status=JobStatus.FAILED).count() == 1
    assert [str(m) for m in done.context["messages"]] == ["5 job(s) queued again."]
    entry = LogEntry.objects.get()
    assert entry.user_id == superuser.pk
    assert entry.object_repr == "5 background job(s)"
    assert f"organization__id__exact='{org.pk}'" in entry.change_message
    assert done.redirect_chain[-1][0] == f"{JOBS}?organization__id__exact={org.pk}"


def test_bulk_retry__small_batches_reach_every_row(org):
    from jobs.services import jobs_retry_matching

    for _ in range(7):
        make_job(org, status=JobStatus.FAILED)

    count = jobs_retry_matching(queryset=BackgroundJob.objects.all(), by="root", batch_size=2)

    assert count == 7
    assert not BackgroundJob.objects.filter(status=JobStatus.FAILED).exists()


def test_bulk_cancel__only_queued_jobs_of_the_search(operator, org):
    keep = make_job(org, payload={"batch": "b"})
    hit = [make_job(org, payload={"batch": "a-17"}) for _ in range(3)]
    running = make_job(org, status=JobStatus.PROCESSING, payload={"batch": "a-17"})
    url = f"{JOBS}bulk/cancel/?q=a-17"

    assert operator.get(url).context["count"] == 3
    operator.post(url)

    assert {j.status for j in BackgroundJob.objects.filter(pk__in=[j.pk for j in hit])} == {JobStatus.CANCELLED}
    keep.refresh_from_db()
    running.refresh_from_db()
    assert (keep.status, running.status) == (JobStatus.QUEUED, JobStatus.PROCESSING)


def test_bulk_delete__finished_jobs_older_than_n_days_with_their_attempts(operator, org):
    now = timezone.now()
    old = make_job(org, status=JobStatus.COMPLETED, completed_at=now - timedelta(days=40))
    make_attempt(old, finished_at=now - timedelta(days=40))
    recent = make_job(org, status=JobStatus.FAILED, completed_at=now - timedelta(days=2))
    queued = make_job(org, created_at=now - timedelta(days=90))
    url = f"{JOBS}bulk/delete_finished/?days=30"

    assert operator.get(url).context["count"] == 1
    assert operator.get(f"{JOBS}bulk/delete_finished/?days=1").context["count"] == 2
    operator.post(url)

    assert set(BackgroundJob.objects.values_list("pk", flat=True)) == {recent.pk, queued.pk}
    assert not JobAttempt.objects.filter(job_id=old.pk).exists()
    assert "deleted, finished more than 30 day(s) ago" in LogEntry.objects.get().change_message


def test_bulk__needs_the_permission(org, db):
    from django.contrib.auth.models import Permission
    from django.test import Client

    from hcm.models import User

    viewer = User.objects.create_user(username="viewer", password=None, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_backgroundjob"))
    client = Client()
    client.force_login(viewer)
    make_job(org, status=JobStatus.FAILED)

    assert client.get(f"{JOBS}bulk/retry/").status_code == 403
    assert client.post(f"{JOBS}bulk/retry/").status_code == 403
    assert BackgroundJob.objects.get().status == JobStatus.FAILED


# --- create form --------------------------------------------------------------------------


def test_create_form__queues_a_job_through_the_service(operator, org):
    run_at = timezone.now() + timedelta(hours=2)
    response = operator.post(
        f"{JOBS}add/",
        {
            "job_type": "cache_flush",
            "organization": org.pk,
            "priority_name": "high",
            "payload": '{"action": "partial", "prefix": "reports:"}',
            "run_at_0": run_at.strftime("%Y-%m-%d"),
            "run_at_1": run_at.strftime("%H:%M:%S"),
            "max_retries": "2",
            "idempotency_key": "",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    job = BackgroundJob.objects.get()
    assert (job.job_type, job.organization_id, job.priority, job.max_retries) == ("cache_flush", org.pk, 1, 2)
    assert job.payload == {"action": "partial", "prefix": "reports:"}
    assert job.run_at.replace(microsecond=0) == run_at.replace(microsecond=0)
    assert job.created_by == "root"
    assert response["Location"] == f"{JOBS}{quote(job.pk)}/change/"


@pytest.mark.parametrize(
    "payload, message",
    [
        ('{"action": "partial"}', "prefix: Required when action is partial."),
        ('{"action": "full", "extra": 1}', "extra: Unknown field."),
        ("[1, 2]", "Must be a JSON object."),
        ("{not json", "Enter a valid JSON."),
    ],
)
def test_create_form__payload_is_checked_against_the_type_schema(operator, org, payload, message):
    response = operator.post(
        f"{JOBS}add/", {"job_type": "cache_flush", "payload": payload, "max_retries": "3", "priority_name": ""}
    )

    assert response.status_code == 200
    assert any(message in e for e in response.context["adminform"].form.errors["payload"])
    assert not BackgroundJob.objects.exists()


def test_create_form__defaults_to_the_type_priority_and_now(operator, org):
    operator.post(f"{JOBS}add/", {"job_type": "db_optimize", "payload": "", "max_retries": "3", "priority_name": ""})

    job = BackgroundJob.objects.get()
    assert job.priority == JobPriority.LOW  # db_optimize's own
    assert job.organization is None  # a service-scope type, by a platform operator
    assert job.available_at <= timezone.now()


def test_create_form__a_service_scope_type_cannot_act_for_an_organization(operator, org):
    response = operator.post(
        f"{JOBS}add/", {"job_type": "db_optimize", "organization": org.pk, "payload": "", "max_retries": "3"}
    )

    assert "db_optimize cannot run for an organization" in response.context["adminform"].form.errors["organization"][0]
    assert not BackgroundJob.objects.exists()


def test_create_form__offers_no_internal_type_and_service_types_to_platform_operators_only(operator, org, db):
    from django.contrib.auth.models import Permission
    from django.test import Client

    from hcm.models import User

    staff = User.objects.create_user(username="staff", password=None, is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["add_backgroundjob", "view_backgroundjob"]))
    staff_client = Client()
    staff_client.force_login(staff)

    for_operator = operator.get(f"{JOBS}add/").context["adminform"].form
    for_staff = staff_client.get(f"{JOBS}add/").context["adminform"].form

    operator_types = {value for value, _ in for_operator.fields["job_type"].choices if value}
    staff_types = {value for value, _ in for_staff.fields["job_type"].choices if value}
    assert {"noop", "django_task", "notification_send"}.isdisjoint(operator_types | staff_types)  # internal
    assert {"db_optimize", "log_rotate", "cache_flush"} <= operator_types
    assert "db_optimize" not in staff_types and {"cache_flush", "email_send"} <= staff_types
    assert for_staff.fields["organization"].required and not for_operator.fields["organization"].required
    refused = staff_client.post(
        f"{JOBS}add/", {"job_type": "cache_flush", "payload": '{"action": "full"}', "max_retries": "3"}
    )
    assert "organization" in refused.context["adminform"].form.errors
    assert not BackgroundJob.objects.exists()


# --- small things -------------------------------------------------------------------------


def test_favicon__answers(client, db):
    response = client.get("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
