"""/api/system/background-jobs: create, list, get, cancel, retry, stats, pause and resume."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework import serializers
from rest_framework.test import APIClient

from jobs import registry
from jobs.claim import claim_jobs
from jobs.models import AttemptOutcome, BackgroundJob, JobAttempt, JobStatus, JobTypePause, WorkerHeartbeat
from jobs.registry import job_handler
from jobs.services import job_enqueue
from tests.workers import start_worker, worker_env

URL = "/api/system/background-jobs"


@pytest.fixture(autouse=True)
def _test_job_types(job_types):
    """`test_noop` and friends: types a person may enqueue (the built-in `noop` is internal)."""
    return job_types


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Users are made with a password; the production hasher costs ~0.5 s per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# The seed's job representation (doc 000, "Create Background Job" response): a client
# written from it must find every one of these fields.
SEED_JOB_FIELDS = {
    "id",
    "organization_id",
    "job_type",
    "status",
    "priority",
    "payload",
    "result",
    "error_message",
    "retry_count",
    "max_retries",
    "next_retry_at",
    "created_at",
    "created_by",
    "started_at",
    "completed_at",
    "updated_by",
}
ADDED_JOB_FIELDS = {
    "run_at",
    "progress",
    "idempotency_key",
    "attempt",
    "worker_id",
    "lease_expires_at",
    "updated_at",
}


class FlushPayload(serializers.Serializer):
    action = serializers.ChoiceField(["full", "partial"])
    prefix = serializers.CharField(required=False)


@pytest.fixture
def flush_type():
    """A job type with a payload schema and a non-default priority, registered the way
    every handler module registers, for this test only."""

    @job_handler("test_flush", scope="organization", payload=FlushPayload, priority="low", timeout=5)
    def test_flush(ctx):
        """Test job type."""
        return {}

    yield "test_flush"
    registry._REGISTRY.pop("test_flush", None)


def enqueue(org, job_type="test_noop", **kwargs) -> BackgroundJob:
    job, _ = job_enqueue(organization=org, job_type=job_type, created_by="alice", **kwargs)
    return job


def set_state(job: BackgroundJob, status: str, **fields) -> BackgroundJob:
    """Put a job in a state as the worker would have left it (test setup)."""
    now = timezone.now()
    changes = {"status": status, **fields}
    if status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED):
        changes.setdefault("started_at", now)
        changes.setdefault("completed_at", now)
    if status == JobStatus.FAILED:
        changes.setdefault("error_message", "RuntimeError: boom")
        changes.setdefault("retry_count", job.max_retries + 1)
    BackgroundJob.objects.filter(pk=job.pk).update(**changes)
    job.refresh_from_db()
    return job


def claim_one(job: BackgroundJob) -> BackgroundJob:
    """Take the job as a worker does (it must be the only due job of its type)."""
    claimed = claim_jobs(worker_id="test-host:1:abc", limit=1, lease_seconds=60, job_types=[job.job_type])
    assert [c.id for c in claimed] == [job.id]
    job.refresh_from_db()
    return job


# --- create -------------------------------------------------------------------------------


def test_create__seed_example_returns_201_with_the_seed_fields(admin_client, org, flush_type):
    body = {"job_type": "test_flush", "priority": "high", "payload": {"action": "full"}, "max_retries": 3}

    response = admin_client.post(URL, body, format="json")

    assert response.status_code == 201, response.content
    job = response.json()
    assert SEED_JOB_FIELDS | ADDED_JOB_FIELDS <= set(job)
    assert "attempts" not in job
    assert job["id"].startswith("job_")
    assert job["organization_id"] == org.id
    assert job["job_type"] == "test_flush"
    assert job["status"] == "queued"
    assert job["priority"] == "high"
    assert job["payload"] == {"action": "full"}
    assert job["result"] is None
    assert job["error_message"] is None
    assert job["retry_count"] == 0
    assert job["max_retries"] == 3
    assert job["created_by"] == "alice"
    assert job["progress"] == 0
    assert job["attempt"] == 0
    assert job["worker_id"] is None
    assert BackgroundJob.objects.get(pk=job["id"]).organization_id == org.id


@pytest.mark.parametrize(
    "job_type, payload",
    [
        ("cache_flush", {"action": "full"}),
        ("db_optimize", {}),
        ("log_rotate", {}),
        ("cleanup", {"type": "all"}),
        ("email_send", {"to": "admin@company.com", "subject": "System Alert", "body": "Disk almost full."}),
    ],
)
def test_create__seed_job_types_with_seed_payloads(admin_client, operator_client, job_type, payload):
    # db_optimize and log_rotate act on what all organizations share: a platform operator's.
    client = operator_client if job_type in ("db_optimize", "log_rotate") else admin_client
    response = client.post(URL, {"job_type": job_type, "payload": payload}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["job_type"] == job_type
    assert set(payload) <= set(response.json()["payload"])  # as the type's schema cleaned it


def test_create__seed_job_type_bad_payload_names_the_field(admin_client):
    response = admin_client.post(URL, {"job_type": "cache_flush", "payload": {"action": "all"}}, format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]["payload"]) == ["action"]


def test_create__defaults_priority_medium_and_max_retries_3(admin_client, flush_type):
    response = admin_client.post(URL, {"job_type": "test_flush", "payload": {"action": "partial"}}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["priority"] == "medium"  # seed 000; not test_flush's own default (low)
    assert response.json()["max_retries"] == 3

    response = admin_client.post(URL, {"job_type": "test_noop"}, format="json")
    assert response.json()["priority"] == "medium"
    assert response.json()["payload"] == {}


def test_create__run_at_is_kept_and_the_job_is_not_due_before_it(admin_client):
    run_at = (timezone.now() + timedelta(hours=1)).replace(microsecond=0)

    response = admin_client.post(URL, {"job_type": "test_noop", "run_at": run_at.isoformat()}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["run_at"] == run_at.isoformat().replace("+00:00", "Z")
    assert claim_jobs(worker_id="w", limit=10, lease_seconds=60) == []


def test_create__trailing_slash_form_answers_too(admin_client):
    response = admin_client.post(URL + "/", {"job_type": "test_noop"}, format="json")

    assert response.status_code == 201, response.content


def test_create__unknown_job_type_is_400_listing_the_valid_ones(admin_client):
    response = admin_client.post(URL, {"job_type": "make_coffee"}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert "job_type" in body["errors"]
    assert "test_noop" in body["errors"]["job_type"][0]
    assert "make_coffee" in body["detail"]
    assert not BackgroundJob.objects.exists()


@pytest.mark.parametrize(
    "payload, field",
    [
        ({}, "action"),
        ({"action": "everything"}, "action"),
        ({"action": "full", "colour": "red"}, "colour"),
        ({"action": "partial", "prefix": ["not", "a", "string"]}, "prefix"),
    ],
)
def test_create__bad_payload_is_400_naming_the_payload_field(admin_client, flush_type, payload, field):
    response = admin_client.post(URL, {"job_type": "test_flush", "payload": payload}, format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert list(body["errors"]) == ["payload"]
    assert field in body["errors"]["payload"]
    assert f"payload.{field}" in body["detail"]


@pytest.mark.parametrize("payload", [["action", "full"], "full", 3])
def test_create__payload_that_is_not_an_object_is_400(admin_client, flush_type, payload):
    response = admin_client.post(URL, {"job_type": "test_flush", "payload": payload}, format="json")

    assert response.status_code == 400
    assert "payload" in response.json()["errors"]


def test_create__payload_for_a_type_without_one_is_400(admin_client):
    response = admin_client.post(URL, {"job_type": "test_noop", "payload": {"x": 1}}, format="json")

    assert response.status_code == 400
    assert "payload" in response.json()["errors"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"job_type": "test_noop", "max_retries": -1}, "max_retries"),
        ({"job_type": "test_noop", "max_retries": 11}, "max_retries"),
        ({"job_type": "test_noop", "max_retries": "many"}, "max_retries"),
        ({"job_type": "test_noop", "priority": "urgent"}, "priority"),
        ({"job_type": "test_noop", "priority": 1}, "priority"),
        ({"job_type": "test_noop", "run_at": "tomorrow"}, "run_at"),
        ({"job_type": "test_noop", "idempotency_key": "k" * 201}, "idempotency_key"),
        ({"job_type": "test_noop", "status": "completed"}, "status"),
        ({"job_type": "test_noop", "organization_id": "org_other"}, "organization_id"),
        ({"job_type": "test_noop", "bogus": 1}, "bogus"),
        ({}, "job_type"),
    ],
)
def test_create__invalid_or_unknown_body_field_is_400_naming_it(admin_client, body, field):
    response = admin_client.post(URL, body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert response.json()["detail"]
    assert not BackgroundJob.objects.exists()


@pytest.mark.parametrize("max_retries", [0, 10])
def test_create__max_retries_bounds_are_accepted(admin_client, max_retries):
    response = admin_client.post(URL, {"job_type": "test_noop", "max_retries": max_retries}, format="json")

    assert response.status_code == 201
    assert response.json()["max_retries"] == max_retries


def test_create__body_that_is_not_an_object_is_400(admin_client):
    response = admin_client.post(URL, ["test_noop"], format="json")

    assert response.status_code == 400
    assert response.json()["detail"]


def test_create__same_idempotency_key_returns_the_existing_job_with_200(admin_client):
    body = {"job_type": "test_noop", "idempotency_key": "nightly-2026-01-07"}

    first = admin_client.post(URL, body, format="json")
    second = admin_client.post(URL, body, format="json")

    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["idempotency_key"] == "nightly-2026-01-07"
    assert BackgroundJob.objects.count() == 1


def test_create__idempotency_key_is_per_organization(admin_client, other_admin_client):
    body = {"job_type": "test_noop", "idempotency_key": "same-key"}

    mine = admin_client.post(URL, body, format="json")
    theirs = other_admin_client.post(URL, body, format="json")

    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]


def test_create__empty_idempotency_key_means_none(admin_client):
    first = admin_client.post(URL, {"job_type": "test_noop", "idempotency_key": ""}, format="json")
    second = admin_client.post(URL, {"job_type": "test_noop", "idempotency_key": ""}, format="json")

    assert first.status_code == second.status_code == 201
    assert first.json()["idempotency_key"] is None
    assert BackgroundJob.objects.count() == 2


def hourly(settings, name: str) -> None:
    """The seed's per-minute budget, counted per hour: a burst of seconds could otherwise
    straddle the end of a one-minute window (django-ratelimit counts in fixed windows) and
    find the count restarted."""
    count, period = settings.RATE_LIMITS[name].split("/")
    assert period == "m"
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, name: f"{count}/h"}


def test_create__21st_request_in_a_minute_is_429_with_retry_after(admin_client, settings):
    assert settings.RATE_LIMITS["background_job_create"] == "20/m"
    hourly(settings, "background_job_create")
    for _ in range(20):
        assert admin_client.post(URL, {"job_type": "test_noop"}, format="json").status_code == 201

    response = admin_client.post(URL, {"job_type": "test_noop"}, format="json")

    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response.json()["detail"]
    assert BackgroundJob.objects.count() == 20


def test_create__rate_limit_is_per_user(admin_client, other_admin_client, settings):
    hourly(settings, "background_job_create")
    for _ in range(20):
        admin_client.post(URL, {"job_type": "test_noop"}, format="json")

    assert other_admin_client.post(URL, {"job_type": "test_noop"}, format="json").status_code == 201


# --- who may call ---------------------------------------------------------------------------


def _endpoints(job_id: str) -> list[tuple[str, str, dict | None]]:
    return [
        ("get", URL, None),
        ("post", URL, {"job_type": "test_noop"}),
        ("get", f"{URL}/{job_id}", None),
        ("post", f"{URL}/{job_id}/cancel", None),
        ("post", f"{URL}/{job_id}/retry", None),
        ("get", f"{URL}/stats", None),
        ("post", f"{URL}/pause", {"job_type": "test_noop"}),
        ("post", f"{URL}/resume", {"job_type": "test_noop"}),
    ]


def test_every_endpoint__without_a_token_is_401(org):
    job = enqueue(org)
    client = APIClient()
    for method, path, body in _endpoints(job.id):
        response = getattr(client, method)(path, body, format="json")
        assert response.status_code == 401, (method, path)
        assert response.json()["detail"]


def test_every_endpoint__member_is_403(member_client, org):
    job = enqueue(org)
    for method, path, body in _endpoints(job.id):
        response = getattr(member_client, method)(path, body, format="json")
        assert response.status_code == 403, (method, path)
        assert "system_admin" in response.json()["detail"]
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert BackgroundJob.objects.count() == 1
    assert not JobTypePause.objects.exists()


@pytest.mark.parametrize("action", ["", "/cancel", "/retry"])
def test_job_endpoints__another_organizations_job_is_404(other_admin_client, org, action):
    job = set_state(enqueue(org), JobStatus.FAILED)
    method = "get" if action == "" else "post"

    response = getattr(other_admin_client, method)(f"{URL}/{job.id}{action}")

    assert response.status_code == 404
    assert response.json()["detail"]
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED


@pytest.mark.parametrize("action", ["", "/cancel", "/retry"])
def test_job_endpoints__unknown_id_is_404(admin_client, action):
    method = "get" if action == "" else "post"

    response = getattr(admin_client, method)(f"{URL}/job_doesnotexist{action}")

    assert response.status_code == 404


# --- list -----------------------------------------------------------------------------------


def test_list__newest_first_in_the_seed_list_shape(admin_client, org):
    jobs = [enqueue(org) for _ in range(3)]

    response = admin_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "total", "total_exact", "skip", "limit", "next"}
    assert body["total"] == 3
    assert body["skip"] == 0
    assert body["limit"] == 50
    assert [j["id"] for j in body["items"]] == [j.id for j in reversed(jobs)]
    assert SEED_JOB_FIELDS | ADDED_JOB_FIELDS <= set(body["items"][0])


def test_list__only_the_callers_organization(admin_client, org, other_org):
    mine = enqueue(org)
    enqueue(other_org)

    body = admin_client.get(URL).json()

    assert [j["id"] for j in body["items"]] == [mine.id]
    assert body["total"] == 1


def test_list__filters_by_status_job_type_and_priority(admin_client, org, flush_type):
    queued_noop = enqueue(org, priority="high")
    failed_noop = set_state(enqueue(org), JobStatus.FAILED)
    queued_flush = enqueue(org, job_type="test_flush", payload={"action": "full"})

    def ids(**params):
        response = admin_client.get(URL, params)
        assert response.status_code == 200, response.content
        return {j["id"] for j in response.json()["items"]}

    assert ids(status="queued") == {queued_noop.id, queued_flush.id}
    assert ids(status="failed") == {failed_noop.id}
    assert ids(job_type="test_flush") == {queued_flush.id}
    assert ids(priority="high") == {queued_noop.id}
    assert ids(priority="low") == {queued_flush.id}  # test_flush's default
    assert ids(status="queued", job_type="test_noop") == {queued_noop.id}
    assert ids(status="completed") == set()


@pytest.mark.parametrize(
    "params, field",
    [
        ({"status": "done"}, "status"),
        ({"job_type": "make_coffee"}, "job_type"),
        ({"priority": "urgent"}, "priority"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"skip": "-1"}, "skip"),
        ({"skip": "x"}, "skip"),
    ],
)
def test_list__bad_filter_or_page_value_is_400_naming_the_param(admin_client, params, field):
    response = admin_client.get(URL, params)

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert field in response.json()["detail"]


def test_list__skip_and_limit_page_through_without_repeats(admin_client, org):
    jobs = [enqueue(org) for _ in range(5)]
    BackgroundJob.objects.update(created_at=timezone.now())  # ties: the order must still be stable

    pages = [admin_client.get(URL, {"skip": skip, "limit": 2}).json() for skip in (0, 2, 4)]

    assert [p["total"] for p in pages] == [5, 5, 5]
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    seen = [j["id"] for p in pages for j in p["items"]]
    assert sorted(seen) == sorted(j.id for j in jobs)


def test_list__limit_200_is_allowed_and_skip_past_the_end_is_empty(admin_client, org):
    enqueue(org)

    assert admin_client.get(URL, {"limit": 200}).json()["limit"] == 200
    body = admin_client.get(URL, {"skip": 10}).json()
    assert body["items"] == []
    assert body["total"] == 1


def test_list__cursor_pages_through_ties_without_repeats_or_gaps(admin_client, org):
    jobs = [enqueue(org) for _ in range(5)]
    BackgroundJob.objects.update(created_at=timezone.now())  # ties: id orders them

    seen, pages, params = [], 0, {"limit": 2}
    while True:
        body = admin_client.get(URL, params).json()
        seen += [j["id"] for j in body["items"]]
        pages += 1
        if body["next"] is None:
            break
        params = {"limit": 2, "after": body["next"]}

    assert pages == 3
    assert sorted(seen) == sorted(j.id for j in jobs)
    assert len(seen) == len(set(seen))


def test_list__cursor_keeps_the_filters_and_the_last_page_has_no_next(admin_client, org):
    failed = [set_state(enqueue(org), JobStatus.FAILED) for _ in range(3)]
    enqueue(org)

    first = admin_client.get(URL, {"status": "failed", "limit": 2}).json()
    second = admin_client.get(URL, {"status": "failed", "limit": 2, "after": first["next"]}).json()

    assert [j["id"] for j in first["items"]] == [failed[2].id, failed[1].id]
    assert [j["id"] for j in second["items"]] == [failed[0].id]
    assert second["next"] is None
    assert second["total"] == 3 and second["total_exact"] is True


@pytest.mark.parametrize("cursor", ["not-a-cursor", "WzFd", "eyJ4IjoxfQ", "WyJ4IiwieSJd"])
def test_list__a_cursor_this_list_did_not_return_is_400_naming_after(admin_client, org, cursor):
    enqueue(org)

    response = admin_client.get(URL, {"after": cursor})

    assert response.status_code == 400
    assert "after" in response.json()["errors"]
    assert "after" in response.json()["detail"]


def test_list__total_is_exact_up_to_the_bound_then_says_it_is_not(admin_client, org, monkeypatch):
    from hcm.pagination import SkipLimitPagination

    monkeypatch.setattr(SkipLimitPagination, "total_bound", 3)
    for _ in range(3):
        enqueue(org)
    at_bound = admin_client.get(URL).json()
    enqueue(org)
    past_bound = admin_client.get(URL).json()

    assert (at_bound["total"], at_bound["total_exact"]) == (3, True)
    assert (past_bound["total"], past_bound["total_exact"]) == (3, False)
    assert len(past_bound["items"]) == 4


def _plan(queryset) -> str:
    from django.db import connection

    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            return "\n".join(str(row[-1]) for row in cursor.fetchall())
        # A test table is tiny, where a scan and a sort cost nothing: forbid both to see
        # whether an index can give the list's order (a sort then shows only if none can).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize(
    "filters, index, ranges",
    [
        ({}, "bg_jobs_org_created_idx", 1),
        ({"status": "failed"}, "bg_jobs_org_status_idx", 3),  # one range per priority
        ({"priority": 1}, "bg_jobs_org_status_idx", 5),  # one per status
        ({"status": "failed", "priority": 1}, "bg_jobs_org_status_idx", 1),
        ({"job_type": "test_noop"}, "bg_jobs_org_type_idx", 15),  # one per (status, priority)
        ({"status": "failed", "job_type": "test_noop"}, "bg_jobs_org_type_idx", 3),
        ({"job_type": "test_noop", "priority": 1}, "bg_jobs_org_type_idx", 5),
        ({"status": "queued", "job_type": "test_noop", "priority": 0}, "bg_jobs_org_type_idx", 1),
    ],
)
def test_list__each_range_of_a_page_reads_an_index_in_the_lists_order(org, filters, index, ranges):
    from django.db import connection, transaction

    from jobs.selectors import job_list_ranges

    enqueue(org)
    jobs = BackgroundJob.objects.filter(organization=org, **filters).order_by("-created_at", "-id")
    parts = job_list_ranges(jobs, filtered=set(filters))

    assert len(parts) == ranges
    for part in parts:
        with transaction.atomic():
            plan = _plan(part[:51])
        # SQLite takes the filter's own index; PostgreSQL, on a test-sized table, may as well
        # take the plain list index and filter on the way: either way one of the list
        # indexes, and no sort (the index gives the order).
        assert (index if connection.vendor == "sqlite" else "bg_jobs_org_") in plan
        assert "TEMP B-TREE" not in plan and "Sort" not in plan


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"status": "failed"},
        {"priority": "high"},
        {"job_type": "test_noop"},
        {"job_type": "test_noop", "status": "queued"},
    ],
)
def test_list__pages_merged_from_ranges_are_the_list_in_order_by_cursor_and_by_skip(operator_client, org, params):
    """Jobs of every status and priority, created_at ties included, service-wide ones among
    them (an operator sees both scopes): every page, by cursor or by skip, is the next slice
    of the one ordered list, whatever ranges it was merged from."""
    statuses = [JobStatus.QUEUED, JobStatus.FAILED, JobStatus.COMPLETED, JobStatus.CANCELLED]
    now = timezone.now()
    for i in range(24):
        job = enqueue(org if i % 5 else None, priority=["low", "medium", "high"][i % 3])
        if statuses[i % 4] != JobStatus.QUEUED:
            set_state(job, statuses[i % 4])
        BackgroundJob.objects.filter(pk=job.pk).update(created_at=now - timedelta(seconds=i // 2))
    priority = {"low": -1, "medium": 0, "high": 1}.get(params.get("priority", ""))
    expected = [
        job.pk
        for job in BackgroundJob.objects.order_by("-created_at", "-id")
        if all(
            [
                job.status == params.get("status", job.status),
                job.job_type == params.get("job_type", job.job_type),
                priority is None or job.priority == priority,
            ]
        )
    ]

    by_cursor, query = [], {**params, "limit": 4}
    while True:
        body = operator_client.get(URL, query).json()
        by_cursor += [j["id"] for j in body["items"]]
        if body["next"] is None:
            break
        query = {**params, "limit": 4, "after": body["next"]}
    by_skip = [
        j["id"]
        for skip in range(0, len(expected) + 4, 4)
        for j in operator_client.get(URL, {**params, "skip": skip, "limit": 4}).json()["items"]
    ]

    assert expected, "the scenario has jobs for every filter"
    assert by_cursor == expected
    assert by_skip == expected
    assert operator_client.get(URL, params).json()["total"] == len(expected)


@pytest.mark.parametrize(
    "query",
    ["", "?status=queued", "?status=queued&job_type=test_noop&priority=medium", "?job_type=test_noop&priority=high"],
)
def test_list__a_page_is_five_statements_and_its_bounded_count_reads_a_list_index(admin_client, org, query):
    """Auth (user, its two permission lookups), the bounded count, the page. The count
    follows the same list index as the page: with every filter in its prefix, a
    combination that matches nothing is ruled out without reading a row."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        enqueue(org)
    with CaptureQueriesContext(connection) as ctx:
        response = admin_client.get(URL + query)
    assert response.status_code == 200
    assert len(ctx.captured_queries) <= 5, [q["sql"] for q in ctx.captured_queries]
    [count_sql] = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("SELECT COUNT(*)")]

    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {count_sql}")
            plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
            assert "COVERING INDEX bg_jobs_org_" in plan, plan
        else:
            # A test-sized table: forbid a scan and a sort, as _plan() does.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute(f"EXPLAIN {count_sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Index" in plan and "bg_jobs_claim_idx" not in plan, plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan


def test_list_and_detail__never_show_a_traceback(admin_client, org):
    job = set_state(enqueue(org), JobStatus.FAILED, error_message="RuntimeError: disk full")
    JobAttempt.objects.create(
        job=job,
        attempt=1,
        worker_id="host:1:aa",
        job_type="test_noop",
        started_at=timezone.now(),
        finished_at=timezone.now(),
        duration_ms=12.5,
        outcome=AttemptOutcome.FAILED,
        error_message="RuntimeError: disk full",
        traceback='Traceback (most recent call last):\n  File "secret_module.py", line 1\nRuntimeError: disk full',
    )

    listing = admin_client.get(URL)
    detail = admin_client.get(f"{URL}/{job.id}")

    for response in (listing, detail):
        assert response.status_code == 200
        assert "Traceback" not in response.content.decode()
        assert "secret_module" not in response.content.decode()
        assert "traceback" not in response.content.decode()
    assert "attempts" not in listing.json()["items"][0]


# --- detail ---------------------------------------------------------------------------------


def test_detail__job_with_its_attempt_log(admin_client, org):
    job = claim_one(enqueue(org))
    started = timezone.now() - timedelta(seconds=2)
    JobAttempt.objects.create(
        job=job,
        attempt=1,
        worker_id="test-host:1:abc",
        job_type="test_noop",
        started_at=started,
        finished_at=started + timedelta(milliseconds=250),
        duration_ms=250.0,
        outcome=AttemptOutcome.LEASE_EXPIRED,
        error_message="worker test-host:1:abc stopped renewing its lease (killed or lost)",
    )

    response = admin_client.get(f"{URL}/{job.id}/")

    assert response.status_code == 200
    body = response.json()
    assert SEED_JOB_FIELDS | ADDED_JOB_FIELDS | {"attempts"} <= set(body)
    assert body["status"] == "processing"
    assert body["worker_id"] == "test-host:1:abc"
    assert body["attempt"] == 1
    assert body["lease_expires_at"] is not None
    assert body["started_at"] is not None
    assert body["attempts"] == [
        {
            "attempt": 1,
            "worker_id": "test-host:1:abc",
            "started_at": started.isoformat().replace("+00:00", "Z"),
            "finished_at": (started + timedelta(milliseconds=250)).isoformat().replace("+00:00", "Z"),
            "duration_ms": 250.0,
            "outcome": "lease_expired",
            "error_message": "worker test-host:1:abc stopped renewing its lease (killed or lost)",
        }
    ]


# --- cancel and retry -----------------------------------------------------------------------


def test_cancel__queued_job_is_cancelled(admin_client, org):
    job = enqueue(org)

    response = admin_client.post(f"{URL}/{job.id}/cancel")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert response.json()["completed_at"] is not None
    assert response.json()["updated_by"] == "alice"
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert claim_jobs(worker_id="w", limit=10, lease_seconds=60) == []


def test_cancel__processing_job_is_cancelled_and_not_taken_again(admin_client, org):
    job = claim_one(enqueue(org))

    response = admin_client.post(f"{URL}/{job.id}/cancel")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["lease_expires_at"] is None
    assert claim_jobs(worker_id="w2", limit=10, lease_seconds=60) == []


@pytest.mark.parametrize("status", [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED])
def test_cancel__finished_job_is_400_and_unchanged(admin_client, org, status):
    job = set_state(enqueue(org), status)

    response = admin_client.post(f"{URL}/{job.id}/cancel")

    assert response.status_code == 400
    assert "status" in response.json()["errors"]
    assert status in response.json()["detail"]
    job.refresh_from_db()
    assert job.status == status


def test_cancel__11th_request_in_a_minute_is_429(admin_client, org, settings):
    assert settings.RATE_LIMITS["background_job_cancel"] == "10/m"
    hourly(settings, "background_job_cancel")
    jobs = [enqueue(org) for _ in range(11)]
    for job in jobs[:10]:
        assert admin_client.post(f"{URL}/{job.id}/cancel").status_code == 200

    response = admin_client.post(f"{URL}/{jobs[10].id}/cancel")

    assert response.status_code == 429
    assert "Retry-After" in response
    jobs[10].refresh_from_db()
    assert jobs[10].status == JobStatus.QUEUED


@pytest.mark.parametrize("status", [JobStatus.FAILED, JobStatus.CANCELLED])
def test_retry__failed_or_cancelled_job_is_queued_again_with_retries_reset(admin_client, org, status):
    job = set_state(enqueue(org, max_retries=2), status, retry_count=3, result={"partial": True})

    response = admin_client.post(f"{URL}/{job.id}/retry")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "queued"
    assert body["retry_count"] == 0
    assert body["error_message"] is None
    assert body["result"] is None
    assert body["completed_at"] is None
    assert body["next_retry_at"] is None
    assert [c.id for c in claim_jobs(worker_id="w", limit=10, lease_seconds=60)] == [job.id]


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.PROCESSING, JobStatus.COMPLETED])
def test_retry__job_that_is_not_failed_or_cancelled_is_400(admin_client, org, status):
    job = enqueue(org)
    job = claim_one(job) if status == JobStatus.PROCESSING else set_state(job, status)

    response = admin_client.post(f"{URL}/{job.id}/retry")

    assert response.status_code == 400
    assert "status" in response.json()["errors"]
    job.refresh_from_db()
    assert job.status == status


# --- pause and resume -----------------------------------------------------------------------


def test_pause_then_resume__shows_the_state_and_holds_the_queue(admin_client, org):
    job = enqueue(org)

    paused = admin_client.post(f"{URL}/pause", {"job_type": "test_noop"}, format="json")

    assert paused.status_code == 200, paused.content
    assert paused.json()["job_type"] == "test_noop"
    assert paused.json()["paused"] is True
    assert paused.json()["paused_by"] == "alice"
    assert paused.json()["paused_at"] is not None
    assert claim_jobs(worker_id="w", limit=10, lease_seconds=60) == []
    stats = admin_client.get(f"{URL}/stats").json()
    assert [p["job_type"] for p in stats["paused_job_types"]] == ["test_noop"]
    assert stats["queue"]["paused"] == 1
    assert stats["queue"]["due"] == 0

    resumed = admin_client.post(f"{URL}/resume/", {"job_type": "test_noop"}, format="json")

    assert resumed.status_code == 200
    assert resumed.json() == {
        "job_type": "test_noop",
        "scope": "organization",
        "paused": False,
        "paused_at": None,
        "paused_by": None,
    }
    assert admin_client.get(f"{URL}/stats").json()["paused_job_types"] == []
    assert [c.id for c in claim_jobs(worker_id="w", limit=10, lease_seconds=60)] == [job.id]


def test_pause__twice_keeps_one_pause(admin_client):
    first = admin_client.post(f"{URL}/pause", {"job_type": "test_noop"}, format="json").json()
    second = admin_client.post(f"{URL}/pause", {"job_type": "test_noop"}, format="json").json()

    assert second["paused_at"] == first["paused_at"]
    assert JobTypePause.objects.count() == 1


def test_resume__a_type_that_is_not_paused_is_fine(admin_client):
    response = admin_client.post(f"{URL}/resume", {"job_type": "test_noop"}, format="json")

    assert response.status_code == 200
    assert response.json()["paused"] is False


@pytest.mark.parametrize("action", ["pause", "resume"])
@pytest.mark.parametrize(
    "body, field",
    [({"job_type": "make_coffee"}, "job_type"), ({}, "job_type"), ({"job_type": "test_noop", "until": "x"}, "until")],
)
def test_pause_and_resume__bad_body_is_400_naming_the_field(admin_client, action, body, field):
    response = admin_client.post(f"{URL}/{action}", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not JobTypePause.objects.exists()


# --- stats ----------------------------------------------------------------------------------


def _attempt(job: BackgroundJob, *, duration_ms: float, outcome: str, finished_at=None) -> JobAttempt:
    finished_at = finished_at or timezone.now() - timedelta(minutes=5)
    return JobAttempt.objects.create(
        job=job,
        attempt=1,
        worker_id="host:1:aa",
        job_type=job.job_type,
        started_at=finished_at - timedelta(milliseconds=duration_ms),
        finished_at=finished_at,
        duration_ms=duration_ms,
        outcome=outcome,
        error_message=None if outcome == AttemptOutcome.COMPLETED else "boom",
    )


def test_stats__counts_queue_and_7_day_summary_from_the_organizations_rows(admin_client, org, other_org, flush_type):
    now = timezone.now()
    oldest_due = enqueue(org, run_at=now - timedelta(minutes=10))
    enqueue(org)
    enqueue(org, run_at=now + timedelta(hours=1))  # scheduled, not due
    claim_one(enqueue(org, job_type="test_flush", payload={"action": "full"}))
    completed = [set_state(enqueue(org), JobStatus.COMPLETED) for _ in range(3)]
    set_state(enqueue(org), JobStatus.FAILED)
    set_state(enqueue(org, job_type="test_flush", payload={"action": "full"}), JobStatus.CANCELLED)
    # Another organization's jobs and attempts count for nothing here.
    theirs = set_state(enqueue(other_org, run_at=now - timedelta(hours=5)), JobStatus.COMPLETED)
    enqueue(other_org, run_at=now - timedelta(hours=5))
    _attempt(theirs, duration_ms=99999, outcome=AttemptOutcome.COMPLETED)
    # noop attempts: 1..20 ms, 18 completed and 2 failed, plus one older than 7 days.
    for ms in range(1, 21):
        outcome = AttemptOutcome.FAILED if ms in (7, 20) else AttemptOutcome.COMPLETED
        _attempt(completed[ms % 3], duration_ms=float(ms), outcome=outcome)
    _attempt(completed[0], duration_ms=50000.0, outcome=AttemptOutcome.FAILED, finished_at=now - timedelta(days=8))
    _attempt(completed[0], duration_ms=40.0, outcome=AttemptOutcome.TIMEOUT, finished_at=now - timedelta(days=1))

    response = admin_client.get(f"{URL}/stats")

    assert response.status_code == 200, response.content
    stats = response.json()
    assert stats["total"] == 9
    assert stats["by_status"] == {"queued": 3, "processing": 1, "completed": 3, "failed": 1, "cancelled": 1}
    assert stats["by_job_type"] == {
        "test_noop": {"total": 7, "queued": 3, "processing": 0, "completed": 3, "failed": 1, "cancelled": 0},
        "test_flush": {"total": 2, "queued": 0, "processing": 1, "completed": 0, "failed": 0, "cancelled": 1},
    }
    queue = stats["queue"]
    assert queue["depth"] == 3
    assert queue["due"] == 2
    assert queue["scheduled"] == 1
    assert queue["paused"] == 0
    assert queue["processing"] == 1
    assert queue["oldest_due_age_seconds"] >= 600
    oldest_due.refresh_from_db()
    assert queue["oldest_due_age_seconds"] < (timezone.now() - oldest_due.available_at).total_seconds() + 1
    summary = stats["last_7_days"]["by_job_type"]
    assert list(summary) == ["test_noop"]
    # 21 runs in the window: 1..20 ms and one 40 ms timeout; 18 succeeded.
    p95 = summary["test_noop"].pop("p95_duration_ms")
    # Nearest rank is the 20th of 21 sorted values, 20 ms; /stats reports the upper edge of
    # its duration bucket (buckets 2^(1/4) apart): never below, at most 19 % above.
    assert 20.0 <= p95 <= round(20.0 * 2**0.25, 2)
    assert summary["test_noop"] == {
        "runs": 21,
        "succeeded": 18,
        "failed": 3,
        "success_rate": round(18 / 21, 4),
        "mean_duration_ms": round((sum(range(1, 21)) + 40) / 21, 2),
    }


def test_stats__empty_organization(admin_client):
    stats = admin_client.get(f"{URL}/stats/").json()

    assert stats["total"] == 0
    assert stats["by_status"] == {"queued": 0, "processing": 0, "completed": 0, "failed": 0, "cancelled": 0}
    assert stats["by_job_type"] == {}
    assert stats["queue"]["oldest_due_age_seconds"] is None
    assert stats["last_7_days"]["by_job_type"] == {}
    assert stats["workers"] == []
    assert stats["paused_job_types"] == []


def test_stats__workers_with_last_heartbeat_and_alive_flag(admin_client):
    now = timezone.now()
    rows = {
        "alive": {"last_seen_at": now},
        "stale": {"last_seen_at": now - timedelta(hours=1)},
        "stopped": {"last_seen_at": now - timedelta(seconds=5), "stopped_at": now - timedelta(seconds=5)},
        "forgotten": {"last_seen_at": now - timedelta(days=8)},
    }
    for name, fields in rows.items():
        WorkerHeartbeat.objects.create(
            worker_id=f"host:{name}", hostname="host", pid=1, started_at=now - timedelta(days=9), jobs_done=4, **fields
        )

    workers = admin_client.get(f"{URL}/stats").json()["workers"]

    assert [(w["worker_id"], w["alive"]) for w in workers] == [
        ("host:alive", True),
        ("host:stopped", False),
        ("host:stale", False),
    ]
    assert workers[0]["jobs_done"] == 4
    assert workers[0]["last_seen_at"] == now.isoformat().replace("+00:00", "Z")


@pytest.mark.django_db(transaction=True)
def test_stats__after_a_real_worker_ran_noop_jobs(admin_client, org):
    ids = [admin_client.post(URL, {"job_type": "test_noop"}, format="json").json()["id"] for _ in range(3)]

    worker = start_worker("--burst", "--concurrency", "2", env=worker_env(JOBS_HANDLER_MODULES="tests.job_types"))
    output, _ = worker.communicate(timeout=60)

    assert worker.returncode == 0, output.decode()
    stats = admin_client.get(f"{URL}/stats").json()
    assert stats["by_status"]["completed"] == 3
    assert stats["queue"]["depth"] == 0
    noop = stats["last_7_days"]["by_job_type"]["test_noop"]
    assert noop["runs"] == 3
    assert noop["succeeded"] == 3
    assert noop["success_rate"] == 1.0
    assert noop["p95_duration_ms"] >= noop["mean_duration_ms"] > 0
    [seen] = stats["workers"]
    assert seen["jobs_done"] == 3
    assert seen["stopped_at"] is not None
    assert seen["alive"] is False
    detail = admin_client.get(f"{URL}/{ids[0]}").json()
    assert detail["status"] == "completed"
    assert detail["result"] == {}
    assert detail["progress"] == 100
    assert [(a["attempt"], a["outcome"], a["worker_id"]) for a in detail["attempts"]] == [
        (1, "completed", seen["worker_id"])
    ]
