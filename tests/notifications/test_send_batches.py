"""A fan-out's deliveries go out in batches: one notification_send_batch job per
NOTIFICATIONS_SEND_BATCH_SIZE deliveries, sent over reused connections. One delivery that
fails for now is retried alone (its own notification_send job); one that fails for good
fails alone; a batch run again sends nothing twice; a batch names its own organization's
deliveries only."""

import math

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hcm.models import Role, User
from jobs.models import BackgroundJob, JobStatus
from jobs.services import job_enqueue
from notifications.models import Delivery, DeliveryStatus, Notification
from notifications.services.deliveries import BATCH_JOB_TYPE, SEND_JOB_TYPE, delivery_resend
from notifications.services.delivery_batches import delivery_batch_send
from notifications.services.notify import notify
from tests.notifications.conftest import configure, delivery_worker_env, run_worker_burst
from tests.workers import start_worker

pytestmark = pytest.mark.django_db(transaction=True)  # the worker's threads see committed rows only

BATCH = 100


@pytest.fixture
def batch_settings(delivery_settings):
    delivery_settings.NOTIFICATIONS_SEND_BATCH_SIZE = BATCH
    return delivery_settings


def make_people(org, n: int) -> list[int]:
    configure(org, email_enabled=True, email_on_critical_alerts=True, email_from_address="hr@acme.test")
    User.objects.bulk_create(
        [User(username=f"p{i}", email=f"p{i}@acme.test", organization=org, role=Role.MEMBER) for i in range(n)]
    )
    return list(User.objects.filter(username__startswith="p").values_list("pk", flat=True))


def addresses(n: int) -> list[str]:
    return sorted(f"p{i}@acme.test" for i in range(n))


def test_fanout_to_250__three_batch_jobs__every_email_once_over_few_connections(
    org, batch_settings, smtp, slack, twilio, tmp_path
):
    people = make_people(org, 250)
    notify(org, "critical_alert", data={"summary": "Disk full"}, recipients=people)

    jobs = BackgroundJob.objects.filter(job_type=BATCH_JOB_TYPE)
    assert jobs.count() == math.ceil(250 / BATCH)
    assert sorted(len(j.payload["delivery_ids"]) for j in jobs) == [50, 100, 100]
    assert not BackgroundJob.objects.filter(job_type=SEND_JOB_TYPE).exists()
    # Each delivery points to the batch job that sends it.
    assert {d.job.payload["delivery_ids"].count(d.pk) for d in Delivery.objects.select_related("job")} == {1}

    # Two real worker processes, as in production.
    env = delivery_worker_env(smtp, slack, twilio, NOTIFICATIONS_SEND_BATCH_SIZE=str(BATCH))
    procs = [start_worker("--burst", env=env, log_path=tmp_path / f"worker{i}.log") for i in range(2)]
    for i, proc in enumerate(procs):
        assert proc.wait(timeout=120) == 0, (tmp_path / f"worker{i}.log").read_text()[-3000:]

    assert sorted(m["To"] for m in smtp.messages) == addresses(250)  # each exactly once
    # Connections are per worker thread (4 per process by default), reused across batches.
    assert 1 <= len(smtp.collector.sessions) <= 8
    assert Delivery.objects.filter(status=DeliveryStatus.SENT, attempts=1).count() == 250
    assert all(d.provider_message_id for d in Delivery.objects.all())
    assert Notification.objects.filter(delivery_status="sent", sent_at__isnull=False).count() == 250
    done = BackgroundJob.objects.filter(job_type=BATCH_JOB_TYPE, status=JobStatus.COMPLETED)
    assert sorted(j.result["sent"] for j in done) == [50, 100, 100]


def test_transient_failure__that_delivery_retried_alone_by_its_own_job__batch_completes(org, batch_settings, smtp):
    people = make_people(org, 30)
    smtp.collector.data_replies_to["p7@acme.test"] = ["451 4.3.0 Try again later"]  # refused for now, once
    notify(org, "critical_alert", data={"summary": "Disk full"}, recipients=people)
    [batch] = BackgroundJob.objects.filter(job_type=BATCH_JOB_TYPE)

    run_worker_burst()  # the retry is due at once (JOBS_RETRY_BASE_SECONDS=0)

    assert sorted(m["To"] for m in smtp.messages) == addresses(30)  # nobody got it twice
    batch.refresh_from_db()
    assert batch.status == JobStatus.COMPLETED and batch.attempt == 1
    assert batch.result == {"deliveries": 30, "sent": 29, "failed": 0, "retrying": 1, "skipped": 0}
    [retried] = Delivery.objects.exclude(job=batch)
    assert retried.recipient == "p7@acme.test" and retried.status == DeliveryStatus.SENT and retried.attempts == 2
    retry_job = retried.job
    assert retry_job.job_type == SEND_JOB_TYPE and retry_job.status == JobStatus.COMPLETED
    assert (retry_job.trigger, retry_job.trigger_id) == ("retry", batch.pk)
    assert retry_job.payload == {"delivery_id": retried.pk}
    # The batch's attempt counts as the first of the delivery's 1 + 3.
    assert (retry_job.retry_count, retry_job.max_retries) == (1, 3)
    others = Delivery.objects.filter(job=batch)
    assert others.count() == 29 and {d.attempts for d in others} == {1}


def test_transient_failure_every_time__the_delivery_fails_after_the_retries_others_sent(org, batch_settings, smtp):
    people = make_people(org, 5)
    # p3's every try: the batch's and its job's 3 retries.
    smtp.collector.data_replies_to["p3@acme.test"] = ["451 4.3.0 Try again later"] * 4
    notify(org, "critical_alert", data={"summary": "Disk full"}, recipients=people)

    run_worker_burst()

    [failed] = Delivery.objects.filter(status=DeliveryStatus.FAILED)
    assert failed.recipient == "p3@acme.test" and failed.attempts == 4 and "451" in failed.last_error
    assert failed.job.status == JobStatus.FAILED and failed.job.job_type == SEND_JOB_TYPE
    assert failed.job.attempt == 3  # its own job's tries; the first was the batch's
    assert Delivery.objects.filter(status=DeliveryStatus.SENT, attempts=1).count() == 4
    assert sorted(m["To"] for m in smtp.messages) == [f"p{i}@acme.test" for i in (0, 1, 2, 4)]
    assert Notification.objects.get(deliveries=failed).delivery_status == "failed"


def test_permanent_failure__only_that_delivery_failed__then_resent_alone(org, batch_settings, smtp):
    people = make_people(org, 20)
    smtp.collector.data_replies_to["p7@acme.test"] = ["554 5.6.0 Message rejected"]
    notify(org, "critical_alert", data={"summary": "Disk full"}, recipients=people)
    [batch] = BackgroundJob.objects.filter(job_type=BATCH_JOB_TYPE)

    run_worker_burst()

    [failed] = Delivery.objects.filter(status=DeliveryStatus.FAILED)
    assert failed.recipient == "p7@acme.test"
    assert failed.attempts == 1 and "554" in failed.last_error and failed.job_id == batch.pk
    assert Delivery.objects.filter(status=DeliveryStatus.SENT).count() == 19
    assert Notification.objects.get(deliveries=failed).delivery_status == "failed"
    assert Notification.objects.filter(delivery_status="sent").count() == 19
    batch.refresh_from_db()
    assert batch.status == JobStatus.COMPLETED and batch.result["failed"] == 1
    assert not BackgroundJob.objects.filter(job_type=SEND_JOB_TYPE).exists()  # not retried
    sent_before = len(smtp.messages)

    # The admin's resend: that delivery alone, by a job of its own (the batch is not rerun).
    delivery_resend(delivery=failed, by="admin")
    run_worker_burst()

    failed.refresh_from_db()
    assert failed.status == DeliveryStatus.SENT and failed.attempts == 2
    assert failed.job.job_type == SEND_JOB_TYPE and failed.job.trigger_id == batch.pk
    assert [m["To"] for m in smtp.messages[sent_before:]] == [failed.recipient]
    batch.refresh_from_db()
    assert batch.attempt == 1


def test_batch_run_again__sends_only_what_is_not_settled(org, batch_settings, smtp):
    """A worker that died mid-batch: the sends it recorded are not sent again."""
    people = make_people(org, 10)
    notify(org, "critical_alert", data={"summary": "Disk full"}, recipients=people)
    [batch] = BackgroundJob.objects.filter(job_type=BATCH_JOB_TYPE)
    ids = batch.payload["delivery_ids"]
    Delivery.objects.filter(pk__in=ids[:4]).update(status=DeliveryStatus.SENT, sent_at=timezone.now(), attempts=1)

    counts = delivery_batch_send(job_id=batch.pk, organization_id=org.pk, delivery_ids=ids)

    assert counts == {"deliveries": 10, "sent": 6, "failed": 0, "retrying": 0, "skipped": 4}
    sent_to = set(Delivery.objects.filter(pk__in=ids[4:]).values_list("recipient", flat=True))
    assert {m["To"] for m in smtp.messages} == sent_to and len(smtp.messages) == 6
    assert delivery_batch_send(job_id=batch.pk, organization_id=org.pk, delivery_ids=ids)["sent"] == 0
    assert len(smtp.messages) == 6


@pytest.mark.parametrize("n", [10, 60])
def test_a_batch__bounded_statements_whatever_its_size(org, batch_settings, smtp, n):
    people = make_people(org, n)
    notify(org, "critical_alert", data={"summary": "Disk full"}, recipients=people)
    [batch] = BackgroundJob.objects.filter(job_type=BATCH_JOB_TYPE)

    with CaptureQueriesContext(connection) as queries:
        counts = delivery_batch_send(
            job_id=batch.pk, organization_id=org.pk, delivery_ids=batch.payload["delivery_ids"]
        )

    assert counts["sent"] == n and len(smtp.messages) == n
    # Load the deliveries, the settings; one UPDATE of the sent ones; their notifications'
    # deliveries and one UPDATE of them.
    control = ("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT")
    statements = [q["sql"] for q in queries if not q["sql"].startswith(control)]
    assert len(statements) <= 5, "\n".join(s[:150] for s in statements)


def test_a_batch_naming_another_organizations_delivery__fails_and_sends_nothing(org, other_org, batch_settings, smtp):
    make_people(org, 3)
    configure(other_org, email_enabled=True, email_on_critical_alerts=True, email_from_address="hr@other.test")
    theirs = User.objects.create(username="them", email="them@other.test", organization=other_org, role=Role.MEMBER)
    notify(org, "critical_alert", data={"summary": "x"}, recipients=list(User.objects.filter(organization=org)))
    notify(other_org, "critical_alert", data={"summary": "x"}, recipients=[theirs])
    mine = list(Delivery.objects.filter(organization=org).values_list("pk", flat=True))
    foreign = Delivery.objects.get(organization=other_org)
    BackgroundJob.objects.all().delete()  # only the forged batch runs
    job, _ = job_enqueue(organization=org, job_type=BATCH_JOB_TYPE, payload={"delivery_ids": [*mine, foreign.pk]})
    Delivery.objects.filter(pk__in=[*mine, foreign.pk]).update(job=job)

    run_worker_burst()

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.attempt == 1  # not retried
    assert foreign.pk in job.error_message
    assert smtp.messages == []
    foreign.refresh_from_db()
    assert foreign.status == DeliveryStatus.QUEUED and foreign.attempts == 0


@pytest.mark.parametrize(
    "payload",
    [{"delivery_ids": []}, {"delivery_ids": "dlv_1"}, {"delivery_ids": [1]}, {"delivery_ids": ["x" * 41]}],
)
def test_batch_payload__checked(org, payload):
    from hcm.exceptions import InvalidInput

    with pytest.raises(InvalidInput) as exc:
        job_enqueue(organization=org, job_type=BATCH_JOB_TYPE, payload=payload)
    assert "delivery_ids" in str(exc.value.errors)


def test_batch_size_one__one_notification_send_job_per_delivery(org, delivery_settings, smtp):
    delivery_settings.NOTIFICATIONS_SEND_BATCH_SIZE = 1
    people = make_people(org, 3)
    notify(org, "critical_alert", data={"summary": "x"}, recipients=people)
    assert BackgroundJob.objects.filter(job_type=SEND_JOB_TYPE).count() == 3
    assert not BackgroundJob.objects.filter(job_type=BATCH_JOB_TYPE).exists()
    run_worker_burst()
    assert sorted(m["To"] for m in smtp.messages) == addresses(3)
