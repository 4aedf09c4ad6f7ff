"""GET/PUT/PATCH /api/system/notification-settings: defaults, scoping, validation, masking."""

import json
import logging

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test import override_settings

from hcm.models import Role
from notifications.models import NotificationSettings
from tests.conftest import client_for
from tests.factories import make_user
from tests.hcm.ratelimits import spend_limit

URL = "/api/system/notification-settings"
WEBHOOK = "https://hooks.slack.com/services/T0ACME/B0ACME/s3cr3tW3bh00kT0k3n"

# Seed 000, "Get Notification Settings", plus the on/off switches the issue adds.
SEED_DEFAULTS = {
    "email_enabled": True,
    "email_provider": "smtp",
    "email_from_address": "noreply@hcm.local",
    "email_from_name": "HCM System",
    "email_on_employee_hired": True,
    "email_on_employee_terminated": True,
    "email_on_org_updated": False,
    "email_on_critical_alerts": True,
    "email_on_leave_request": True,
    "email_on_payroll_processed": True,
    "sms_enabled": False,
    "sms_provider": None,
    "sms_from_number": None,
    "sms_on_employee_hired": False,
    "sms_on_employee_terminated": False,
    "sms_on_critical_alerts": False,
    "sms_on_leave_approved": False,
    "sms_on_payroll_processed": False,
    "slack_enabled": False,
    "slack_webhook_url": None,
    "slack_channel": None,
    "slack_on_critical_alerts": False,
    "digest_frequency": "daily",
    "digest_quiet_hours_start": "22:00",
    "digest_quiet_hours_end": "08:00",
    "digest_do_not_disturb": False,
    "custom_settings": {},
    "created_by": "system",
    "updated_by": "system",
}


def stored(org) -> dict:
    """The organization's settings row as the database holds it (decrypted)."""
    ns = NotificationSettings.objects.get(organization=org)
    return {**model_to_dict(ns), "updated_at": ns.updated_at, "updated_by": ns.updated_by}


def raw_webhook_column(org) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT slack_webhook_url FROM notification_settings WHERE organization_id = %s", [org.pk])
        return cursor.fetchone()[0]


# --- reading ------------------------------------------------------------------------------


def test_get__first_access_creates_the_seed_defaults(org, admin_client):
    response = admin_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in SEED_DEFAULTS} == SEED_DEFAULTS
    assert body["id"] == f"ns_{org.pk}"
    assert body["organization_id"] == org.pk
    assert body["created_at"].endswith("Z") and body["updated_at"].endswith("Z")
    assert NotificationSettings.objects.filter(organization=org).count() == 1


def test_get__twice_returns_the_same_row(org, admin_client):
    first = admin_client.get(URL).json()
    second = admin_client.get(URL).json()

    assert first == second
    assert NotificationSettings.objects.count() == 1


@pytest.mark.parametrize("path", [URL, URL + "/"])
def test_get__with_or_without_trailing_slash_answers_without_redirect(path, admin_client):
    assert admin_client.get(path).status_code == 200


@pytest.mark.parametrize("method", ["delete", "post"])
def test_settings__unsupported_method_is_405_with_detail(method, admin_client):
    response = getattr(admin_client, method)(URL)

    assert response.status_code == 405
    assert method.upper() in response.json()["detail"]
    assert "GET" in response["Allow"]


# --- scoping --------------------------------------------------------------------------------


def test_settings__each_organization_sees_only_its_own(org, other_org, admin_client, other_admin_client):
    admin_client.patch(URL, {"email_from_name": "Acme HR"}, format="json")
    other_admin_client.patch(URL, {"email_from_name": "Globex People"}, format="json")

    mine, theirs = admin_client.get(URL).json(), other_admin_client.get(URL).json()

    assert (mine["id"], mine["organization_id"], mine["email_from_name"]) == (f"ns_{org.pk}", org.pk, "Acme HR")
    assert (theirs["id"], theirs["organization_id"], theirs["email_from_name"]) == (
        f"ns_{other_org.pk}",
        other_org.pk,
        "Globex People",
    )


def test_settings__another_organizations_update_never_shows_up(org, other_org, admin_client, other_admin_client):
    before = admin_client.get(URL).json()

    response = other_admin_client.put(
        URL, {"email_enabled": False, "slack_channel": "#globex", "custom_settings": {"x": 1}}, format="json"
    )

    assert response.status_code == 200
    assert admin_client.get(URL).json() == before


# --- updating -------------------------------------------------------------------------------

CHANGES = {
    "email_enabled": False,
    "email_provider": "console",
    "email_from_address": "hr@acme.example",
    "email_from_name": "Acme HR",
    "email_on_employee_hired": False,
    "email_on_employee_terminated": False,
    "email_on_org_updated": True,
    "email_on_critical_alerts": False,
    "email_on_leave_request": False,
    "email_on_payroll_processed": False,
    "sms_enabled": True,
    "sms_provider": "twilio",
    "sms_from_number": "+15551234567",
    "sms_on_employee_hired": True,
    "sms_on_employee_terminated": True,
    "sms_on_critical_alerts": True,
    "sms_on_leave_approved": True,
    "sms_on_payroll_processed": True,
    "slack_enabled": True,
    "slack_channel": "#alerts",
    "slack_on_critical_alerts": True,
    "digest_frequency": "weekly",
    "digest_quiet_hours_start": "23:30",
    "digest_quiet_hours_end": "06:15",
    "digest_do_not_disturb": True,
    "custom_settings": {"locale": "de", "nested": {"a": [1, 2]}},
}


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update__every_field_at_once(method, org, admin_client):
    response = getattr(admin_client, method)(URL, CHANGES, format="json")

    assert response.status_code == 200, response.content
    assert {k: response.json()[k] for k in CHANGES} == CHANGES
    assert {k: admin_client.get(URL).json()[k] for k in CHANGES} == CHANGES


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize("field", sorted(CHANGES))
def test_update__one_field_changes_only_that_field(method, field, org, admin_client):
    before = admin_client.get(URL).json()

    response = getattr(admin_client, method)(URL, {field: CHANGES[field]}, format="json")

    assert response.status_code == 200, response.content
    after = response.json()
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {field, "updated_at", "updated_by"}
    assert after[field] == CHANGES[field]


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update__empty_body_changes_nothing_but_the_audit_fields(method, org, admin_client):
    before = admin_client.get(URL).json()

    response = getattr(admin_client, method)(URL, {}, format="json")

    assert response.status_code == 200
    assert {k: v for k, v in response.json().items() if k not in ("updated_at", "updated_by")} == {
        k: v for k, v in before.items() if k not in ("updated_at", "updated_by")
    }


def test_update__updated_by_is_the_caller_and_created_by_stays(org, admin_user, admin_client):
    admin_client.get(URL)
    second_admin = make_user(org, role=Role.SYSTEM_ADMIN, username="carol")

    first = admin_client.patch(URL, {"slack_channel": "#a"}, format="json").json()
    second = client_for(second_admin).patch(URL, {"slack_channel": "#b"}, format="json").json()

    assert (first["updated_by"], first["created_by"]) == ("alice", "system")
    assert (second["updated_by"], second["created_by"]) == ("carol", "system")
    assert NotificationSettings.objects.get(organization=org).updated_by == "carol"
    assert second["updated_at"] >= first["updated_at"]


def test_update__putting_back_what_get_returned_is_accepted_and_changes_nothing(org, admin_client):
    admin_client.patch(URL, {"slack_webhook_url": WEBHOOK, "slack_channel": "#ops"}, format="json")
    got = admin_client.get(URL).json()
    before = stored(org)

    response = admin_client.put(URL, got, format="json")

    assert response.status_code == 200, response.content
    after = stored(org)
    assert {k: v for k, v in after.items() if k != "updated_at"} == {
        k: v for k, v in before.items() if k != "updated_at"
    }
    assert after["slack_webhook_url"] == WEBHOOK


def test_update__read_only_fields_sent_are_ignored(org, admin_client):
    admin_client.get(URL)

    response = admin_client.patch(
        URL, {"id": "ns_other", "organization_id": "org_other", "created_by": "mallory"}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["organization_id"], body["created_by"]) == (f"ns_{org.pk}", org.pk, "system")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("digest_quiet_hours_start", "00:00"),
        ("digest_quiet_hours_end", "23:59"),
        ("sms_from_number", "+442071838750"),
        ("sms_from_number", None),
        ("sms_provider", "aws_sns"),
        ("sms_provider", None),
        ("email_provider", "sendgrid"),
        ("email_provider", "ses"),
        ("email_provider", "smtp"),
        ("digest_frequency", "hourly"),
        ("digest_frequency", "monthly"),
        ("custom_settings", {}),
        ("custom_settings", {"k": "x" * (16 * 1024 - 8)}),  # exactly 16 KiB as compact JSON
        ("email_from_name", "Ünïcode HR — Büro"),
    ],
)
def test_update__boundary_values_are_accepted(field, value, org, admin_client):
    response = admin_client.patch(URL, {field: value}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()[field] == value


# --- validation: 400 naming the field, nothing changed --------------------------------------

INVALID = [
    ("bogus_field", 1),
    ("email_from_address", "not-an-email"),
    ("email_from_address", "a@b.example\nBcc: victim@example.com"),
    ("email_from_address", None),
    ("email_from_address", ""),
    ("email_from_name", "Acme\nBcc: victim@example.com"),
    ("email_from_name", "Acme\r\nX-Injected: 1"),
    ("email_from_name", "x" * 101),
    ("email_enabled", "maybe"),
    ("email_enabled", None),
    ("sms_from_number", "5551234567"),
    ("sms_from_number", "+0123456789"),
    ("sms_from_number", "+1 555 123 4567"),
    ("sms_from_number", "+1234567890123456"),
    ("sms_from_number", "+1"),
    ("slack_webhook_url", "http://hooks.slack.com/services/T0/B0/abc"),
    ("slack_webhook_url", "https://example.com/services/T0/B0/abc"),
    ("slack_webhook_url", "https://hooks.slack.com.evil.example/services/T0/B0/abc"),
    ("slack_webhook_url", "https://user:pw@hooks.slack.com/services/T0/B0/abc"),
    ("slack_webhook_url", "https://hooks.slack.com:8443/services/T0/B0/abc"),
    ("slack_webhook_url", "ftp://hooks.slack.com/services/T0/B0/abc"),
    ("slack_webhook_url", "hooks.slack.com/services/T0/B0/abc"),
    ("slack_webhook_url", "https://hooks.slack.com/…abcd"),  # a masked hint is not a URL to store
    ("digest_quiet_hours_start", "24:00"),
    ("digest_quiet_hours_start", "7:00"),
    ("digest_quiet_hours_start", "ab"),
    ("digest_quiet_hours_end", "12:60"),
    ("digest_quiet_hours_end", "12:00:00"),
    ("digest_quiet_hours_end", ""),
    ("digest_quiet_hours_end", None),
    ("email_provider", "mailgun"),
    ("email_provider", None),
    ("sms_provider", "carrier-pigeon"),
    ("digest_frequency", "yearly"),
    ("digest_frequency", "Daily"),
    ("custom_settings", [1, 2]),
    ("custom_settings", "text"),
    ("custom_settings", 5),
    ("custom_settings", None),
    ("custom_settings", {"k": "x" * (16 * 1024 - 7)}),  # one byte over 16 KiB
    ("slack_channel", "x" * 81),
]


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize(("field", "value"), INVALID, ids=[f"{f}={str(v)[:24]!r}" for f, v in INVALID])
def test_update__invalid_value_is_400_naming_the_field_and_changes_nothing(method, field, value, org, admin_client):
    admin_client.patch(URL, {"slack_webhook_url": WEBHOOK}, format="json")
    before = stored(org)

    # A valid change travels along: it must not be applied either.
    response = getattr(admin_client, method)(URL, {"slack_channel": "#changed", field: value}, format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body["errors"]
    assert field in body["detail"]
    assert stored(org) == before


def test_update__several_bad_fields_are_all_named(org, admin_client):
    response = admin_client.patch(
        URL, {"sms_from_number": "123", "digest_quiet_hours_end": "25:00", "nope": True}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"sms_from_number", "digest_quiet_hours_end", "nope"}


@pytest.mark.parametrize("body", [[1, 2], "text", 7])
def test_update__body_that_is_not_an_object_is_400(body, org, admin_client):
    response = admin_client.put(URL, json.dumps(body), content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"]


def test_update__malformed_json_is_400_with_detail(org, admin_client):
    response = admin_client.put(URL, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


@pytest.mark.parametrize(
    ("allowed", "url"),
    [
        (["127.0.0.1:8025"], "http://127.0.0.1:8025/services/T0/B0/abc"),
        (["slack-proxy.internal"], "https://slack-proxy.internal/services/T0/B0/abc"),
        (["slack-proxy.internal"], "http://slack-proxy.internal/hook"),
    ],
)
def test_update__webhook_on_an_allowlisted_host_is_accepted(allowed, url, org, admin_client):
    with override_settings(NOTIFICATIONS_SLACK_ALLOWED_HOSTS=allowed):
        response = admin_client.patch(URL, {"slack_webhook_url": url}, format="json")

    assert response.status_code == 200, response.content
    assert NotificationSettings.objects.get(organization=org).slack_webhook_url == url


@pytest.mark.parametrize(
    ("allowed", "url"),
    [
        (["127.0.0.1:8025"], "http://127.0.0.1:9999/services/T0/B0/abc"),
        (["slack-proxy.internal"], "https://other.internal/services/T0/B0/abc"),
        ([], "http://127.0.0.1:8025/services/T0/B0/abc"),
    ],
)
def test_update__webhook_on_a_host_not_allowlisted_is_400(allowed, url, org, admin_client):
    with override_settings(NOTIFICATIONS_SLACK_ALLOWED_HOSTS=allowed):
        response = admin_client.patch(URL, {"slack_webhook_url": url}, format="json")

    assert response.status_code == 400
    assert "slack_webhook_url" in response.json()["errors"]


# --- the Slack webhook URL is a credential --------------------------------------------------


def test_webhook__never_returned_whole(org, admin_client):
    put = admin_client.put(URL, {"slack_webhook_url": WEBHOOK, "slack_enabled": True}, format="json")
    get = admin_client.get(URL)

    for response in (put, get):
        assert response.status_code == 200
        assert "s3cr3tW3bh00kT0k3n" not in response.content.decode()
        assert "T0ACME" not in response.content.decode()
        body = response.json()
        assert body["slack_webhook_url"] == "https://hooks.slack.com/…T0k3n"[:24] + "…" + WEBHOOK[-4:]
        assert body["slack_webhook_configured"] is True


def test_webhook__browsable_api_does_not_show_it(org, admin_user, admin_client):
    from django.test import Client

    from tests.factories import PASSWORD

    admin_client.patch(URL, {"slack_webhook_url": WEBHOOK}, format="json")
    browser = Client()
    browser.login(username="alice", password=PASSWORD)

    response = browser.get(URL, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert "s3cr3tW3bh00kT0k3n" not in response.content.decode()


def test_webhook__encrypted_at_rest(org, admin_client):
    admin_client.patch(URL, {"slack_webhook_url": WEBHOOK}, format="json")

    raw = raw_webhook_column(org)

    assert raw and WEBHOOK not in raw and "s3cr3t" not in raw and "hooks.slack.com" not in raw
    assert NotificationSettings.objects.get(organization=org).slack_webhook_url == WEBHOOK


def test_webhook__same_url_encrypts_differently_per_write(org, other_org, admin_client, other_admin_client):
    admin_client.patch(URL, {"slack_webhook_url": WEBHOOK}, format="json")
    other_admin_client.patch(URL, {"slack_webhook_url": WEBHOOK}, format="json")

    assert raw_webhook_column(org) != raw_webhook_column(other_org)


@pytest.mark.parametrize("method", ["put", "patch"])
def test_webhook__update_that_omits_it_keeps_it(method, org, admin_client):
    admin_client.patch(URL, {"slack_webhook_url": WEBHOOK}, format="json")

    response = getattr(admin_client, method)(URL, {"slack_channel": "#ops"}, format="json")

    assert response.status_code == 200
    assert response.json()["slack_webhook_configured"] is True
    assert NotificationSettings.objects.get(organization=org).slack_webhook_url == WEBHOOK


def test_webhook__sending_the_masked_hint_back_keeps_it(org, admin_client):
    hint = admin_client.patch(URL, {"slack_webhook_url": WEBHOOK}, format="json").json()["slack_webhook_url"]

    response = admin_client.put(URL, {"slack_webhook_url": hint, "slack_channel": "#ops"}, format="json")

    assert response.status_code == 200
    assert response.json()["slack_webhook_url"] == hint
    assert NotificationSettings.objects.get(organization=org).slack_webhook_url == WEBHOOK


@pytest.mark.parametrize("cleared", [None, ""])
def test_webhook__null_or_empty_clears_it(cleared, org, admin_client):
    admin_client.patch(URL, {"slack_webhook_url": WEBHOOK}, format="json")

    response = admin_client.patch(URL, {"slack_webhook_url": cleared}, format="json")

    assert response.status_code == 200
    assert response.json()["slack_webhook_url"] is None
    assert response.json()["slack_webhook_configured"] is False
    assert NotificationSettings.objects.get(organization=org).slack_webhook_url is None
    assert raw_webhook_column(org) is None


def test_webhook__replacing_it_stores_the_new_one(org, admin_client):
    admin_client.patch(URL, {"slack_webhook_url": WEBHOOK}, format="json")
    new = "https://hooks.slack.com/services/T0ACME/B0ACME/n3wT0k3nn3wT0k3n"

    response = admin_client.patch(URL, {"slack_webhook_url": new}, format="json")

    assert response.status_code == 200
    assert NotificationSettings.objects.get(organization=org).slack_webhook_url == new


def test_webhook__rejected_url_is_not_echoed_in_the_error(org, admin_client):
    bad = "https://evil.example/services/T0/B0/l00k1ngF0rS3cr3ts"

    response = admin_client.patch(URL, {"slack_webhook_url": bad}, format="json")

    assert response.status_code == 400
    assert "l00k1ngF0rS3cr3ts" not in response.content.decode()


def test_webhook__never_in_the_logs(org, admin_client, caplog, settings):
    log_file = settings.LOG_DIR / "hcm.log"
    start = log_file.stat().st_size if log_file.exists() else 0
    caplog.set_level(logging.DEBUG)

    admin_client.put(URL, {"slack_webhook_url": WEBHOOK, "slack_enabled": True}, format="json")
    admin_client.get(URL)
    admin_client.patch(URL, {"slack_webhook_url": WEBHOOK + "x", "bogus": 1}, format="json")
    admin_client.patch(URL, {"slack_webhook_url": "https://evil.example/services/s3cr3tW3bh00kT0k3n"}, format="json")

    assert caplog.records, "expected the requests to be logged"
    assert "s3cr3tW3bh00kT0k3n" not in caplog.text
    for record in caplog.records:
        assert "s3cr3tW3bh00kT0k3n" not in json.dumps(vars(record), default=str)
    data = log_file.read_bytes() if log_file.exists() else b""
    written = (data[start:] if len(data) >= start else data).decode(errors="replace")  # rotated meanwhile: all
    assert "notification settings updated" in written
    assert "s3cr3tW3bh00kT0k3n" not in written


# --- rate limit -----------------------------------------------------------------------------


def test_rate_limit__21st_update_in_a_minute_is_429_with_retry_after(org, admin_client, settings):
    assert settings.RATE_LIMITS["notification_settings_update"] == "20/m"

    response = spend_limit(lambda: admin_client.patch(URL, {"slack_channel": "#x"}, format="json"), 20)

    assert response.status_code == 429
    assert "Rate limit" in response.json()["detail"]
    assert 1 <= int(response["Retry-After"]) <= 60
    assert NotificationSettings.objects.get(organization=org).slack_channel == "#x"


def test_rate_limit__is_per_user(org, admin_client):
    colleague = client_for(make_user(org, role=Role.SYSTEM_ADMIN, username="carol"))

    assert spend_limit(lambda: admin_client.patch(URL, {}, format="json"), 20).status_code == 429
    assert colleague.patch(URL, {"slack_channel": "#carol"}, format="json").status_code == 200


def test_rate_limit__reading_is_not_limited(org, admin_client):
    assert spend_limit(lambda: admin_client.patch(URL, {}, format="json"), 20).status_code == 429

    assert admin_client.get(URL).status_code == 200
