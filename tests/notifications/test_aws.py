"""AWS SNS (SMS) and SES (email) through boto3 / django-anymail, against local stand-ins,
never AWS: moto's server mode (started here on a free port) for what AWS accepts, and a
local HTTP server answering AWS-style errors for the failure classes (permanent, retried,
throttled)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import BackgroundJob, JobStatus
from notifications.models import Delivery, DeliveryStatus, NotificationContact
from notifications.services.notify import notify
from tests.notifications.conftest import ALL_CHANNELS_OFF, configure, run_worker_burst
from tests.servers import HTTPRecorder, Reply, free_port

moto_server = pytest.importorskip("moto.server", reason="moto[server] is a test dependency (requirements.txt)")
boto3 = pytest.importorskip("boto3")

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("delivery_settings")]

ACCOUNT, REGION = "123456789012", "us-east-1"  # moto's default account


@pytest.fixture(scope="module")
def _moto():
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(monkeypatch, settings, _moto):
    """Fake credentials for boto3, and both endpoints pointed at moto."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    settings.AWS_REGION = REGION
    settings.AWS_ENDPOINT_URL_SNS = _moto
    settings.AWS_ENDPOINT_URL_SES = _moto
    boto3.client("sns", endpoint_url=_moto, region_name=REGION)  # warms boto's loaders
    return _moto


@pytest.fixture
def alice(admin_user):
    admin_user.email = "alice@acme.test"
    admin_user.save()
    NotificationContact.objects.create(user=admin_user, phone="+15557654321")
    return admin_user


def sns_on(org) -> None:
    configure(
        org,
        **{
            **ALL_CHANNELS_OFF,
            "sms_enabled": True,
            "sms_provider": "aws_sns",
            "sms_from_number": "+15550001111",
            "sms_on_employee_hired": True,
        },
    )


def ses_on(org) -> None:
    configure(
        org,
        **{
            **ALL_CHANNELS_OFF,
            "email_enabled": True,
            "email_provider": "ses",
            "email_from_address": "hr@acme.test",
            "email_on_employee_hired": True,
        },
    )


def sns_error(code: str, status: int, kind: str = "Sender") -> Reply:
    body = (
        '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
        f"<Error><Type>{kind}</Type><Code>{code}</Code><Message>{code} from the stand-in</Message></Error>"
        "<RequestId>req-1</RequestId></ErrorResponse>"
    )
    return Reply(status, body, headers={"Content-Type": "text/xml"})


# --- SNS ---------------------------------------------------------------------------------


def test_sns__sms_published_and_its_message_id_recorded(org, alice, aws):
    from moto.sns.models import sns_backends

    sns_on(org)
    notify(org, "employee_hired", data={"employee_name": "Ada"})
    run_worker_burst()

    delivery = Delivery.objects.get(channel="sms")
    assert delivery.status == DeliveryStatus.SENT, delivery.last_error
    sent = sns_backends[ACCOUNT][REGION].sms_messages
    assert delivery.provider_message_id in sent
    phone, text = sent[delivery.provider_message_id][:2]
    assert phone == "+15557654321" and text.startswith("New hire: Ada")


@pytest.mark.parametrize(
    ("reply", "status", "attempts", "queued"),
    [
        (sns_error("InvalidParameter", 400), DeliveryStatus.FAILED, 1, False),  # permanent
        (sns_error("InternalError", 500, "Receiver"), DeliveryStatus.FAILED, 4, False),  # retried, then failed
        (sns_error("Throttling", 400), DeliveryStatus.QUEUED, 1, True),  # waits before retrying
    ],
)
def test_sns__errors_classified(org, alice, aws, settings, reply, status, attempts, queued):
    with HTTPRecorder() as stand_in:
        settings.AWS_ENDPOINT_URL_SNS = stand_in.url
        stand_in.default = reply
        sns_on(org)
        notify(org, "employee_hired", data={"employee_name": "Ada"})
        before = timezone.now()
        run_worker_burst()
    delivery = Delivery.objects.get(channel="sms")
    assert (delivery.status, delivery.attempts) == (status, attempts), delivery.last_error
    job = BackgroundJob.objects.get(pk=delivery.job_id)
    if queued:
        assert job.status == JobStatus.QUEUED and job.next_retry_at >= before + timedelta(seconds=59)
    assert "Action=Publish" in stand_in.requests[0].body.decode()


def test_sns__no_credentials_fails_as_not_configured(org, alice, aws, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    sns_on(org)
    notify(org, "employee_hired", data={"employee_name": "Ada"})
    run_worker_burst()
    delivery = Delivery.objects.get(channel="sms")
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    assert "not configured" in delivery.last_error


# --- SES ---------------------------------------------------------------------------------


def test_ses__email_sent_through_sesv2(org, alice, aws):
    from moto.ses.models import ses_backends

    boto3.client("ses", endpoint_url=aws, region_name=REGION).verify_email_identity(EmailAddress="hr@acme.test")
    ses_on(org)
    notify(org, "employee_hired", data={"employee_name": "Ada"})
    run_worker_burst()

    delivery = Delivery.objects.get(channel="email")
    assert delivery.status == DeliveryStatus.SENT, delivery.last_error
    [message] = [m for m in ses_backends[ACCOUNT][REGION].sent_messages if "alice@acme.test" in str(m.destinations)]
    assert "hr@acme.test" in message.source


def test_ses__unverified_sender_is_refused_for_good(org, alice, aws):
    configure(org, email_from_address="nobody@unverified.test")
    ses_on(org)
    from notifications.models import NotificationSettings

    NotificationSettings.objects.filter(organization=org).update(email_from_address="nobody@unverified.test")
    notify(org, "employee_hired", data={"employee_name": "Ada"})
    run_worker_burst()
    delivery = Delivery.objects.get(channel="email")
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1, delivery.last_error


def test_ses__server_errors_retried(org, alice, aws, settings):
    with HTTPRecorder() as stand_in:
        settings.AWS_ENDPOINT_URL_SES = stand_in.url
        stand_in.default = Reply(
            500, {"__type": "InternalFailure", "message": "stand-in"}, headers={"Content-Type": "application/json"}
        )
        ses_on(org)
        notify(org, "employee_hired", data={"employee_name": "Ada"})
        run_worker_burst()
    delivery = Delivery.objects.get(channel="email")
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 4), delivery.last_error
