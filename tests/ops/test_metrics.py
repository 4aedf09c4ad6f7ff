"""GET /metrics: who may read it, and what it reports after a real worker ran real jobs."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from jobs.models import JobTypePause
from jobs.services import job_enqueue
from notifications.models import Delivery, DeliveryStatus
from tests.factories import make_user
from tests.ops.conftest import enqueue
from tests.workers import run_burst, worker_env

TOKEN = "metrics-test-token-0123456789"


def scrape(client: Client | None = None, **headers: Any) -> str:
    response = (client or Client()).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return response.content.decode()


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """{(sample name, labels): value} of a scrape, parsed by prometheus_client's own parser."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, frozenset(labels.items())))


# --- access ---------------------------------------------------------------------------------

ACCESS = [
    # token set, allowed IPs, client address, Authorization header → status
    ("", [], "127.0.0.1", None, 404),
    ("", [], "127.0.0.1", f"Bearer {TOKEN}", 404),
    (TOKEN, [], "127.0.0.1", f"Bearer {TOKEN}", 200),
    (TOKEN, [], "127.0.0.1", "Bearer wrong-token", 401),
    (TOKEN, [], "127.0.0.1", f"Basic {TOKEN}", 401),
    (TOKEN, [], "127.0.0.1", None, 401),
    ("", ["10.0.0.0/8"], "10.1.2.3", None, 200),
    ("", ["10.0.0.0/8", "192.0.2.7"], "192.0.2.7", None, 200),
    ("", ["10.0.0.0/8"], "192.0.2.7", None, 403),
    ("", ["10.0.0.0/8"], "192.0.2.7", f"Bearer {TOKEN}", 403),
    (TOKEN, ["10.0.0.0/8"], "10.9.9.9", None, 200),
    (TOKEN, ["10.0.0.0/8"], "192.0.2.7", f"Bearer {TOKEN}", 200),
    (TOKEN, ["10.0.0.0/8"], "192.0.2.7", None, 401),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("token", "ips", "address", "authorization", "status"), ACCESS)
def test_access__token_or_allowed_address_else_404_401_or_403(settings, token, ips, address, authorization, status):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = token, ips
    headers = {"REMOTE_ADDR": address}
    if authorization:
        headers["HTTP_AUTHORIZATION"] = authorization

    response = Client().get("/metrics", **headers)

    assert response.status_code == status
    if status != 200:
        assert "detail" in response.json()
        assert TOKEN not in response.content.decode()
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_access__a_user_session_or_api_token_is_not_enough(settings, admin_client):
    settings.METRICS_TOKEN = TOKEN

    assert admin_client.get("/metrics").status_code == 401


# --- content ----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_content__queue_attempts_and_durations_after_a_real_worker_ran_jobs(
    settings, job_types, org, other_org, tmp_path
):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ATTEMPTS_LAG_SECONDS = 0  # count attempts at once (default: 30 s old)
    before = scrape()  # the counters start here
    assert value(before, "hcm_job_attempts_total", job_type="test_record", outcome="completed") is None
    ran = tmp_path / "ran.log"
    for _ in range(3):
        enqueue("test_record", org=org, path=str(ran))
    enqueue("test_fail", org=org, times=5, permanent=True, max_retries=0)
    later = timezone.now() + timedelta(hours=1)
    job_enqueue(organization=org, job_type="test_record", payload={"path": str(ran)}, run_at=later)
    JobTypePause.objects.create(job_type="test_sleep")  # service-wide
    for _ in range(2):
        enqueue("test_sleep", org=org, seconds=0)
    JobTypePause.objects.create(job_type="test_fail", organization=other_org)  # not acme's jobs
    enqueue("test_fail", org=other_org, times=0)

    run_burst("--concurrency", "2", env=worker_env(JOBS_HANDLER_MODULES="tests.job_types"), log_dir=tmp_path)
    text = scrape()

    assert value(text, "hcm_job_attempts_total", job_type="test_record", outcome="completed") == 3
    assert value(text, "hcm_job_attempts_total", job_type="test_fail", outcome="failed") == 1
    assert value(text, "hcm_job_attempt_duration_seconds_count", job_type="test_record") == 3
    assert value(text, "hcm_job_attempt_duration_seconds_bucket", job_type="test_record", le="+Inf") == 3
    assert value(text, "hcm_job_attempt_duration_seconds_sum", job_type="test_record") > 0
    assert value(text, "hcm_jobs_queued", job_type="test_record", state="scheduled") == 1
    assert value(text, "hcm_jobs_queued", job_type="test_record", state="due") == 0
    assert value(text, "hcm_jobs_queued", job_type="test_sleep", state="paused") == 2
    assert value(text, "hcm_jobs_queued", job_type="test_sleep", state="due") == 0
    assert value(text, "hcm_jobs_queued", job_type="test_fail", state="paused") == 1  # globex's, paused for globex
    assert value(text, "hcm_job_types_paused", job_type="test_sleep", scope="service") == 1
    assert value(text, "hcm_job_types_paused", job_type="test_fail", scope="organization") == 1
    assert value(text, "hcm_jobs_oldest_due_age_seconds", job_type="test_sleep") == 0  # paused: not waiting
    assert value(text, "hcm_workers_alive") == 0  # the burst worker has exited

    # Another scrape (another web process would do the same) counts nothing twice.
    again = scrape()
    assert value(again, "hcm_job_attempts_total", job_type="test_record", outcome="completed") == 3
    assert value(again, "hcm_job_attempt_duration_seconds_count", job_type="test_record") == 3


@pytest.mark.django_db
def test_content__oldest_due_job_age_and_waiting_deliveries(settings, org):
    settings.METRICS_TOKEN = TOKEN
    job, _ = job_enqueue(organization=org, job_type="noop")
    type(job).objects.filter(pk=job.pk).update(run_at=timezone.now() - timedelta(minutes=10))  # available_at follows
    user = make_user(org, username="carol")
    Delivery.objects.create(organization=org, user=user, event="e", channel="email", recipient="c@example.com")
    Delivery.objects.create(
        organization=org, user=user, event="e", channel="sms", recipient="+15551234567", status=DeliveryStatus.DEFERRED
    )

    text = scrape()

    assert 600 <= value(text, "hcm_jobs_oldest_due_age_seconds", job_type="noop") < 3600
    assert value(text, "hcm_jobs_queued", job_type="noop", state="due") == 1
    assert value(text, "hcm_notification_deliveries_waiting", channel="email", status="queued") == 1
    assert value(text, "hcm_notification_deliveries_waiting", channel="sms", status="deferred") == 1


@pytest.mark.django_db
def test_content__deliveries_that_ended_and_notifications_created_are_counted_once(settings, org):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ATTEMPTS_LAG_SECONDS = 0
    scrape()
    user = make_user(org, username="dave")
    from notifications.models import Notification

    Notification.objects.create(organization=org, user=user, type="t", title="Hello", priority="high")
    Delivery.objects.create(
        organization=org, user=user, event="e", channel="email", recipient="d@example.com", status="sent"
    )
    Delivery.objects.create(
        organization=org, user=user, event="e", channel="slack", recipient="…", status=DeliveryStatus.FAILED
    )

    text = scrape()
    again = scrape()

    for t in (text, again):
        assert value(t, "hcm_notifications_created_total", priority="high") == 1
        assert value(t, "hcm_notification_deliveries_total", channel="email", status="sent") == 1
        assert value(t, "hcm_notification_deliveries_total", channel="slack", status="failed") == 1


@pytest.mark.django_db
def test_deploy_files__alerts_and_dashboard_use_only_metrics_that_exist(settings):
    import json
    import re

    import yaml

    from tests.workers import ROOT

    settings.METRICS_TOKEN = TOKEN
    families = re.findall(r"^# TYPE (\S+) (\S+)$", scrape(), flags=re.M)
    names = set()
    for name, kind in families:
        # (the text format names a counter's family with its _total already)
        suffixes = {"histogram": ["_bucket", "_count", "_sum"]}.get(kind, [""])
        names |= {name + s for s in suffixes}
    rules = yaml.safe_load((ROOT / "deploy/prometheus/hcm-alerts.yml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    dashboard = json.loads((ROOT / "deploy/grafana/hcm-dashboard.json").read_text())
    exprs += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]

    used = {m for e in exprs for m in re.findall(r"\bhcm_[a-z_]+", e)}

    assert used and used <= names, used - names
    assert {r["alert"] for g in rules["groups"] for r in g["rules"]} >= {
        "HcmOldestDueJobTooOld",
        "HcmNoWorkerAlive",
        "HcmJobFailureRateHigh",
    }
