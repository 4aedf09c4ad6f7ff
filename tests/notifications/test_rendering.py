"""Templates: escaped HTML, plain text unescaped, missing variables render empty."""

import pytest

from notifications.events import _EVENTS, EventType, event_names, get_event, register_event
from notifications.rendering import (
    RenderedNotification,
    email_renderer,
    render_email,
    render_event,
    render_slack,
    render_sms,
    safe_action_url,
)


def test_event_text__missing_variables_render_empty_never_crash():
    n = render_event(get_event("employee_hired"), data={}, organization_name="Acme")
    assert n.title == "New hire:"
    assert n.message == "has joined Acme."
    assert n.action_url == ""


def test_email__html_escaped_text_verbatim():
    data = {"employee_name": "<script>x</script> & Co", "position": '"Chief"'}
    n = render_event(get_event("employee_hired"), data=data, organization_name="Acme <Ltd>")
    email = render_email(
        template="employee_hired",
        notification=n,
        data=data,
        organization_name="Acme <Ltd>",
        recipient_name="Bob",
        priority="normal",
    )
    assert email["subject"] == "New hire: <script>x</script> & Co"
    assert "<script>x</script> & Co" in email["text"] and "Acme <Ltd>" in email["text"]
    assert "<script>" not in email["html"]
    assert "&lt;script&gt;x&lt;/script&gt; &amp; Co" in email["html"] and "Acme &lt;Ltd&gt;" in email["html"]


@pytest.fixture
def unregistered_afterwards():
    """The event registry is process-wide: a test's own event must not outlive the test
    (other tests list every registered event)."""
    before = set(event_names())
    yield
    for name in set(event_names()) - before:
        del _EVENTS[name]


def test_email__event_without_templates_uses_the_generic_ones(unregistered_afterwards):
    event = register_event(
        EventType(name="test_only_payroll_closed", title="Payroll {{ month }} closed", message="Done.")
    )
    n = render_event(event, data={"month": "May"}, organization_name="Acme")
    email = render_email(
        template=event.name, notification=n, data={}, organization_name="Acme", recipient_name="Bob", priority="low"
    )
    assert email["subject"] == "Payroll May closed"
    assert "Hello Bob," in email["text"] and "Done." in email["text"]
    assert "<h1" in email["html"]


def test_subject__line_breaks_removed():
    n = RenderedNotification(title="Line\r\nBcc: evil@example.com", message="", action_url="")
    email = render_email(
        template="x", notification=n, data={}, organization_name="A", recipient_name="", priority="low"
    )
    assert "\n" not in email["subject"] and "\r" not in email["subject"]


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("/employees/42", "/employees/42"),
        ("https://hcm.example.com/x?y=1", "https://hcm.example.com/x?y=1"),
        ("javascript:alert(1)", ""),
        ("//evil.example.com/x", ""),
        ("data:text/html,hi", ""),
        ("/ok\nLocation: x", ""),
        ("", ""),
    ],
)
def test_safe_action_url(url, safe):
    assert safe_action_url(url) == safe


def test_slack_payload__escaped_mrkdwn_and_sms_length():
    n = RenderedNotification(title="Alert <!channel>", message="a & b" * 1000, action_url="https://x.example/a")
    payload = render_slack(n, organization_name="Acme", priority="critical")
    assert payload["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text": "Alert <!channel>"}}
    assert "<!channel>" not in payload["text"] and "&lt;!channel&gt;" in payload["text"]
    assert len(payload["blocks"][1]["text"]["text"]) <= 3000
    assert "<https://x.example/a|Open>" in payload["blocks"][2]["elements"][0]["text"]
    assert len(render_sms(n)) == 1600


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://hr.example.com/", "https://hr.example.com/employees/e-7"),
        ("", "/employees/e-7"),
    ],
)
def test_outbound_links__relative_action_url_joined_to_notifications_base_url(settings, base_url, expected):
    settings.NOTIFICATIONS_BASE_URL = base_url
    data = {"employee_name": "Ada", "employee_id": "e-7"}
    n = render_event(get_event("employee_hired"), data=data, organization_name="Acme")
    email = render_email(
        template="employee_hired",
        notification=n,
        data=data,
        organization_name="Acme",
        recipient_name="",
        priority="normal",
    )
    slack = render_slack(n, organization_name="Acme", priority="normal")

    assert n.action_url == "/employees/e-7"  # in-app keeps the app-relative path
    assert expected in email["text"] and expected in email["html"]
    assert (f"<{expected}|Open>" in str(slack["blocks"])) == expected.startswith("https://")


NAMES = ["Bob", '<b>Ann</b> & "Co"', "Zoë O'Neil", "{{ title }}"]


def test_email_renderer__each_recipient_gets_what_rendering_them_alone_gives():
    data = {"employee_name": "Ada <Lovelace>", "position": "CTO"}
    n = render_event(get_event("employee_hired"), data=data, organization_name="Acme")
    common = {"template": "employee_hired", "notification": n, "data": data, "organization_name": "Acme"}
    fill = email_renderer(**common, priority="normal")
    for name in NAMES:
        assert fill(name) == render_email(**common, recipient_name=name, priority="normal")


def test_email_renderer__a_template_that_changes_the_name_is_rendered_per_recipient(settings, tmp_path):
    (tmp_path / "notifications").mkdir()
    (tmp_path / "notifications" / "shout.txt").write_text("Hi {{ recipient_name|upper }}!")
    (tmp_path / "notifications" / "shout.html").write_text("<p>{% if recipient_name == 'Bob' %}Bobby{% endif %}</p>")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    n = RenderedNotification(title="T", message="M", action_url="")
    fill = email_renderer(template="shout", notification=n, data={}, organization_name="Acme", priority="normal")
    assert fill("Bob")["text"] == "Hi BOB!" and fill("Bob")["html"] == "<p>Bobby</p>"
    assert fill("Ann")["text"] == "Hi ANN!" and fill("Ann")["html"] == "<p></p>"
