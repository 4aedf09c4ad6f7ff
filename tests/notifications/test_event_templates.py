"""Each event is defined by its template file, templates/notifications/<event>.toml."""

import tomllib

import pytest

from notifications.events import TEMPLATE_DIR, EventType, event_names, get_event


@pytest.mark.parametrize(
    "name",
    [
        "employee_hired",
        "employee_terminated",
        "org_updated",
        "critical_alert",
        "leave_request",
        "leave_approved",
        "payroll_processed",
    ],
)
def test_builtin_event__title_message_channels_priority_and_url_come_from_its_template(name):
    with (TEMPLATE_DIR / f"{name}.toml").open("rb") as f:
        spec = tomllib.load(f)

    event = get_event(name)

    assert name in event_names()
    assert (event.title, event.message, event.priority, event.action_url) == (
        spec["title"],
        spec["message"],
        spec["priority"],
        spec["action_url"],
    )
    assert event.channels == spec["channels"]


def test_template_with_an_unknown_key__is_refused_at_load(tmp_path, monkeypatch):
    (tmp_path / "bad_event.toml").write_text('title = "t"\nmessage = "m"\ncolour = "red"\n')
    monkeypatch.setattr("notifications.events.TEMPLATE_DIR", tmp_path)

    with pytest.raises(ValueError, match="colour"):
        EventType.from_template("bad_event", toggles={})
