"""One-click unsubscribe: the RFC 8058 headers on a real email (aiosmtpd), the link works
without a login for that person and event only, and altered or forged links do nothing."""

import base64
import re

import pytest
from django.core import signing

from hcm.models import Role
from notifications.models import Delivery, NotificationPreference
from notifications.services.notify import notify
from notifications.unsubscribe import SALT, unsubscribe_token, unsubscribe_token_read, unsubscriber
from tests.factories import make_user
from tests.notifications.conftest import configure, run_worker_burst

pytestmark = pytest.mark.django_db(transaction=True)

SITE = "https://hcm.example.com"


@pytest.fixture
def mail(org, delivery_settings):
    delivery_settings.SITE_URL = SITE
    configure(
        org,
        email_enabled=True,
        email_from_address="hr@acme.test",
        email_on_employee_hired=True,
        email_on_employee_terminated=True,
        digest_frequency=None,
    )
    return delivery_settings


def path_of(url: str) -> str:
    assert url.startswith(SITE + "/notifications/unsubscribe/")
    return url[len(SITE) :]


def test_email__carries_one_click_unsubscribe_that_turns_that_event_off(org, admin_user, smtp, mail, client):
    notify(org, "employee_hired", data={"employee_name": "Ada"})
    run_worker_burst()
    [message] = smtp.messages
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Folded onto its own line (the URL is longer than a header line); unfolded it is <URL>.
    url = re.fullmatch(r"<(\S+)>", message["List-Unsubscribe"].strip()).group(1)
    assert url in message.get_body(("plain",)).get_content()  # also visible in the text

    # A GET (a mail scanner, or the person) only asks for confirmation.
    page = client.get(path_of(url))
    assert page.status_code == 200 and b"Unsubscribe" in page.content
    assert not NotificationPreference.objects.exists()

    # What a mail client sends for a one-click unsubscribe: no login, no CSRF token.
    done = client.post(path_of(url), {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and b"no longer get emails" in done.content
    [pref] = NotificationPreference.objects.all()
    assert (pref.user_id, pref.event, pref.channel, pref.enabled) == (admin_user.pk, "employee_hired", "email", False)
    again = client.post(path_of(url), {"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200 and b"already unsubscribed" in again.content

    # The next hire sends no email; another event still does.
    smtp.messages.clear()
    notify(org, "employee_hired", data={"employee_name": "Grace"})
    notify(org, "employee_terminated", data={"employee_name": "Alan"})
    run_worker_burst()
    terminated = Delivery.objects.get(event="employee_terminated").content["subject"]
    assert [m["Subject"] for m in smtp.messages] == [terminated]


def test_link__altered_or_forged_links_are_rejected(org, admin_user, client):
    bob = make_user(org, role=Role.MEMBER, username="bob")
    token = unsubscribe_token(user_id=admin_user.pk, event="employee_hired")
    payload, _, signature = token.rpartition(":")

    def forged(value) -> str:
        body = base64.urlsafe_b64encode(signing.JSONSerializer().dumps(value)).rstrip(b"=").decode()
        return f"{body}:{signature}"

    attempts = [
        token[:-1] + ("A" if token[-1] != "A" else "B"),  # signature altered
        forged([bob.pk, "employee_hired"]),  # another person, old signature
        forged([admin_user.pk, "critical_alert"]),  # another event, old signature
        signing.dumps([bob.pk, "employee_hired"], key="not-our-secret", salt=SALT),  # signed with a guessed key
        signing.dumps([bob.pk, "employee_hired"], salt="another-purpose"),  # our key, another salt
        "nonsense",
    ]
    for bad in attempts:
        response = client.post(f"/notifications/unsubscribe/{bad}", {"List-Unsubscribe": "One-Click"})
        assert response.status_code == 400, bad
        assert b"not valid" in response.content
    assert not NotificationPreference.objects.exists()


def test_link__without_site_url_emails_go_without_it(org, admin_user, mail, smtp):
    mail.SITE_URL = ""
    notify(org, "employee_hired", data={"employee_name": "Ada"})
    run_worker_burst()
    [message] = smtp.messages
    assert message["List-Unsubscribe"] is None


def test_fan_out_links__signed_as_signing_dumps_signs_them(settings):
    # The fan-out's signer keys its HMAC once (notifications.unsubscribe): its tokens must
    # be the ones Django's own signer makes, and read back.
    settings.SITE_URL = SITE
    content = unsubscriber("employee_hired")({"text": "Hi", "html": "<html><body>Hi</body></html>"}, 42)
    url = content["headers"]["List-Unsubscribe"][1:-1]
    token = path_of(url).removeprefix("/notifications/unsubscribe/").strip("/")
    unsigned = token.rsplit(":", 1)[0]  # the value and its timestamp, then the signature
    assert signing.Signer(salt=SALT).sign(unsigned) == token
    assert unsubscribe_token_read(token) == (42, "employee_hired")
    assert f'href="{url}"' in content["html"] and url in content["text"]
