"""The admin site: organizations, users with their roles, notification settings by fieldset."""

import json
import re

import pytest
from django.contrib.admin.utils import quote
from django.db import models
from django.test import Client
from django.urls import reverse

from hcm.models import User
from notifications.models import NotificationSettings
from notifications.services.notification_settings import notification_settings_get
from tests.factories import PASSWORD

WEBHOOK = "https://hooks.slack.com/services/T0ADMIN/B0ADMIN/adm1nS3cr3tT0k3n"
SECRET_PART = "adm1nS3cr3tT0k3n"


@pytest.fixture
def superuser(db) -> User:
    return User.objects.create_superuser("root", "root@example.com", PASSWORD)


@pytest.fixture
def browser(superuser) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def settings_row(org) -> NotificationSettings:
    ns = notification_settings_get(organization=org)
    ns.slack_webhook_url = WEBHOOK
    ns.save()
    return ns


def change_url(obj: models.Model) -> str:
    # Ids such as "org_2f…" must be escaped the admin's way ("_" starts an escape there).
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[quote(obj.pk)])


def form_data(ns: NotificationSettings, **changes) -> dict:
    """What the change form posts when saved as it was rendered, plus `changes`."""
    data: dict = {"slack_webhook_url": "", "_save": "Save"}
    skip = {"id", "organization", "slack_webhook_url", "created_at", "created_by", "updated_at", "updated_by"}
    for field in NotificationSettings._meta.concrete_fields:
        if field.name in skip:
            continue
        value = getattr(ns, field.attname)
        if isinstance(field, models.BooleanField):
            if value:
                data[field.name] = "on"
        elif isinstance(field, models.JSONField):
            data[field.name] = json.dumps(value)
        else:
            data[field.name] = "" if value is None else value
    data.update(changes)
    return {k: v for k, v in data.items() if v is not False}


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/hcm/organization/",
        "/admin/hcm/organization/add/",
        "/admin/hcm/user/",
        "/admin/hcm/user/add/",
        "/admin/notifications/notificationsettings/",
    ],
)
def test_admin__pages_open_for_a_superuser(path, browser, settings_row):
    assert browser.get(path).status_code == 200


def test_admin__organization_page_lists_its_users_and_roles(browser, org, admin_user, member_user):
    response = browser.get(change_url(org))

    assert response.status_code == 200
    html = response.content.decode()
    assert org.pk in html
    assert "alice" in html and "bob" in html
    assert re.search(r'<option value="system_admin" selected>', html)


def test_admin__user_list_shows_organization_and_role(browser, org, admin_user, member_user):
    response = browser.get("/admin/hcm/user/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "System admin" in html and "Member" in html
    assert "Acme" in html


def test_admin__user_page_edits_organization_and_role(browser, org, member_user):
    response = browser.get(change_url(member_user))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="role"' in html and 'name="organization"' in html


def test_admin__organization_user_without_staff_is_sent_to_login(admin_user):
    client = Client()
    client.force_login(admin_user)

    response = client.get("/admin/hcm/organization/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_admin__settings_page_has_email_sms_slack_digest_fieldsets(browser, settings_row):
    response = browser.get(change_url(settings_row))

    assert response.status_code == 200
    headings = re.findall(r"<h2[^>]*>\s*([^<]+?)\s*</h2>", response.content.decode())
    assert {"Email", "SMS", "Slack", "Digest"} <= set(headings)


@pytest.mark.parametrize("page", ["changelist", "change"])
def test_admin__webhook_shown_only_as_a_hint(page, browser, settings_row):
    url = "/admin/notifications/notificationsettings/" if page == "changelist" else change_url(settings_row)

    html = browser.get(url).content.decode()

    assert SECRET_PART not in html and "T0ADMIN" not in html
    assert settings_row.slack_webhook_hint in html


def test_admin__saving_with_the_webhook_left_empty_keeps_it(browser, settings_row, superuser):
    response = browser.post(change_url(settings_row), form_data(settings_row, slack_channel="#admin"))

    assert response.status_code == 302, response.content.decode()[:2000]
    settings_row.refresh_from_db()
    assert settings_row.slack_channel == "#admin"
    assert settings_row.slack_webhook_url == WEBHOOK
    assert settings_row.updated_by == "root"


def test_admin__a_new_webhook_replaces_the_stored_one(browser, settings_row):
    new = "https://hooks.slack.com/services/T0ADMIN/B0ADMIN/n3wAdm1nT0k3n"

    response = browser.post(change_url(settings_row), form_data(settings_row, slack_webhook_url=new))

    assert response.status_code == 302
    settings_row.refresh_from_db()
    assert settings_row.slack_webhook_url == new


def test_admin__clear_checkbox_removes_the_webhook(browser, settings_row):
    response = browser.post(change_url(settings_row), form_data(settings_row, clear_slack_webhook_url="on"))

    assert response.status_code == 302
    settings_row.refresh_from_db()
    assert settings_row.slack_webhook_url is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("slack_webhook_url", "http://hooks.slack.com/services/T0/B0/x"),
        ("slack_webhook_url", "https://evil.example/services/T0/B0/x"),
        ("slack_webhook_url", "https://hooks.slack.com/…k3n"),
        ("sms_from_number", "5551234567"),
        ("digest_quiet_hours_start", "24:00"),
        ("digest_quiet_hours_end", "7:00"),
        ("email_from_name", "Acme\r\nBcc: victim@example.com"),
        ("email_from_address", "not-an-email"),
        ("email_provider", "mailgun"),
        ("digest_frequency", "yearly"),
        ("custom_settings", "[1, 2]"),
        ("custom_settings", json.dumps({"k": "x" * 16400})),
    ],
)
def test_admin__invalid_value_is_refused_and_nothing_changes(field, value, browser, settings_row):
    before = NotificationSettings.objects.filter(pk=settings_row.pk).values().get()

    response = browser.post(
        change_url(settings_row), form_data(settings_row, slack_channel="#changed", **{field: value})
    )

    assert response.status_code == 200  # the form again, with the error
    assert field in response.context["adminform"].form.errors
    assert NotificationSettings.objects.filter(pk=settings_row.pk).values().get() == before
    assert SECRET_PART not in response.content.decode()


def test_admin__empty_custom_settings_saves_an_empty_object(browser, settings_row):
    response = browser.post(change_url(settings_row), form_data(settings_row, custom_settings=""))

    assert response.status_code == 302
    settings_row.refresh_from_db()
    assert settings_row.custom_settings == {}


def test_admin__settings_are_one_row_per_organization_never_added_here(browser, org, other_org):
    listing = browser.get("/admin/notifications/notificationsettings/")

    rows = listing.context["cl"].result_list
    assert sorted(ns.organization_id for ns in rows) == sorted([org.pk, other_org.pk])  # made with the defaults
    assert {ns.pk for ns in rows} == {f"ns_{org.pk}", f"ns_{other_org.pk}"}
    assert browser.get("/admin/notifications/notificationsettings/add/").status_code == 403
    assert "/admin/notifications/notificationsettings/add/" not in listing.content.decode()
    change = browser.get(change_url(rows[0])).content.decode()
    assert "_addanother" not in change
    assert "deletelink" not in change


def test_admin__settings_labels_read_sms_slack_and_do_not_disturb(browser, settings_row):
    page = browser.get(change_url(settings_row))
    labels = {name: str(field.label) for name, field in page.context["adminform"].form.fields.items()}
    listing = browser.get("/admin/notifications/notificationsettings/").content.decode()

    assert labels["sms_enabled"] == "SMS enabled"
    assert labels["sms_from_number"] == "SMS from number"
    assert labels["slack_enabled"] == "Slack enabled"
    assert labels["digest_do_not_disturb"] == "Do not disturb"
    for header in ("SMS", "Slack", "Email"):
        assert f">{header}</a>" in listing  # the sortable column header


def test_admin__every_json_field_is_edited_through_the_safe_json_form_field(rf, superuser):
    """hcm.admin_apps: whichever app registers the model, its JSON goes through the API's limits."""
    from django.contrib import admin
    from django.urls import get_resolver

    from hcm.forms import SafeJSONFormField

    get_resolver().url_patterns  # noqa: B018 -- hcm.urls registers every ModelAdmin (admin.autodiscover())
    request = rf.get("/admin/")
    request.user = superuser
    checked = []
    for model, model_admin in admin.site._registry.items():
        for field in model._meta.concrete_fields:
            if isinstance(field, models.JSONField):
                formfield = model_admin.formfield_for_dbfield(field, request=request)
                assert isinstance(formfield, SafeJSONFormField), f"{model.__name__}.{field.name}"
                checked.append(field)
    assert checked  # notification settings' custom_settings, a job's payload, …
