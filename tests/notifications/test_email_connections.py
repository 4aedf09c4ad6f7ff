"""Email deliveries reuse their worker thread's SMTP connection (a fan-out sends
thousands); a connection that fails is dropped and only its message is retried."""

import pytest

from hcm.models import Role, User
from notifications.models import Delivery, DeliveryStatus
from notifications.services.notify import notify
from tests.notifications.conftest import configure, run_worker_burst

pytestmark = pytest.mark.django_db(transaction=True)  # the worker's threads see committed rows only

N = 30


@pytest.fixture
def people(org):
    configure(org, email_enabled=True, email_on_critical_alerts=True, email_from_address="hr@acme.test")
    User.objects.bulk_create(
        [User(username=f"p{i}", email=f"p{i}@acme.test", organization=org, role=Role.MEMBER) for i in range(N)]
    )
    return list(User.objects.filter(username__startswith="p").values_list("pk", flat=True))


def test_many_emails_arrive_over_fewer_connections_than_messages(org, people, delivery_settings, smtp):
    notify(org, "critical_alert", data={"summary": "Disk full"}, recipients=people)

    run_worker_burst()  # two threads

    assert sorted(m["To"] for m in smtp.messages) == sorted(f"p{i}@acme.test" for i in range(N))
    assert 1 <= len(smtp.collector.sessions) < N
    assert Delivery.objects.filter(status=DeliveryStatus.SENT).count() == N


def test_a_connection_that_fails_mid_batch__only_that_message_is_retried_none_lost(
    org, people, delivery_settings, smtp
):
    smtp.collector.data_replies = ["421 4.3.0 Closing, try later"]  # the first message fails
    notify(org, "critical_alert", data={"summary": "Disk full"}, recipients=people)

    run_worker_burst()  # retries are due at once (JOBS_RETRY_BASE_SECONDS=0)

    received = sorted(m["To"] for m in smtp.messages)
    assert received == sorted(f"p{i}@acme.test" for i in range(N))  # each exactly once
    deliveries = Delivery.objects.all()
    assert all(d.status == DeliveryStatus.SENT for d in deliveries)
    assert sorted(d.attempts for d in deliveries) == [1] * (N - 1) + [2]
    # The failed connection was closed; the retry went on a new one.
    assert len(smtp.collector.sessions) >= 2


def test_each_email_arrives_as_its_text_and_html_parts_each_with_a_boundary_of_its_own(
    org, people, delivery_settings, smtp
):
    notify(org, "critical_alert", data={"summary": "Disk full on db-1"}, recipients=people[:3])

    run_worker_burst()

    assert len(smtp.messages) == 3
    for message in smtp.messages:
        assert message.get_content_type() == "multipart/alternative"
        text, html = message.get_body(("plain",)), message.get_body(("html",))
        assert "Disk full on db-1" in text.get_content()
        assert "Disk full on db-1" in html.get_content()
    # Drawn per message (sending.py), not repeated: 128 random bits each.
    boundaries = {message.get_boundary() for message in smtp.messages}
    assert len(boundaries) == 3
    assert all(len(b.strip("=")) == 32 for b in boundaries)
