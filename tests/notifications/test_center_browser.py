"""The notification center page driven in headless Chromium (Playwright + Debian's chromium)
against a real daphne process: sign in, a notification arrives without a reload, mark it
read, change a preference; then the page at phone width in dark mode.

Needs /usr/bin/chromium (`apt-get install chromium`); without it these tests are skipped.
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from hcm.models import Role
from notifications.models import Notification, NotificationPreference
from notifications.services.notify import notify
from tests.asgi_server import asgi_server
from tests.factories import PASSWORD, make_org, make_user
from tests.notifications.conftest import configure

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)",
    ),
]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements.txt)")
expect = sync_api.expect


@pytest.fixture(scope="module")
def browser() -> Iterator:
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still synchronous, so Django's async-safety check is switched off for this module.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def server(tmp_path_factory, django_db_setup, django_db_blocker) -> Iterator:
    with asgi_server(tmp_path_factory.mktemp("center"), NOTIFICATIONS_STREAM_POLL_SECONDS="0.1") as s:
        yield s


@pytest.fixture
def bob(transactional_db):
    org = make_org("acme")
    configure(org, email_enabled=True, email_on_employee_hired=True)
    user = make_user(org, role=Role.MEMBER, username="bob")
    # The server process checks passwords with the production hashers (this process uses a
    # fast MD5 one); a PBKDF2 hash with few iterations is quick and understood by both.
    user.password = PBKDF2PasswordHasher().encode(PASSWORD, "browser-test-salt", iterations=1000)
    user.save(update_fields=["password"])
    return user


def sign_in(page, server, *, next_path: str = "/notifications/") -> None:
    page.goto(server.url + next_path)
    # Anonymous: sent to the sign-in page, which brings them back.
    assert page.url == f"{server.url}/accounts/login/?next={next_path}"
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert page.url == server.url + next_path, page.content()[:3000]


def test_center__live_notification_mark_read_and_preferences(browser, server, bob):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    try:
        sign_in(page, server)
        expect(page.get_by_role("heading", name="Notifications", level=1)).to_be_visible()
        expect(page.locator("#connection")).to_have_text("Live updates: on")
        expect(page.locator("#empty")).to_be_visible()

        notify(bob.organization, "employee_hired", data={"employee_name": "Ada Lovelace"}, recipients=[bob])

        item = page.locator("li.ntf", has_text="New hire: Ada Lovelace")
        expect(item).to_be_visible()  # arrived over the stream: no reload
        expect(item).to_have_class(re.compile(r"\bunread\b"))
        expect(page.locator("#unread-badge")).to_have_text("1")
        expect(page.locator("#live")).to_have_text("New notification: New hire: Ada Lovelace")
        expect(page).to_have_title(re.compile(r"^\(1\) Notifications"))

        item.get_by_role("button", name="Mark read: New hire: Ada Lovelace").click()
        expect(item).not_to_have_class(re.compile(r"\bunread\b"))
        expect(page.locator("#unread-badge")).to_have_text("0")
        assert Notification.objects.get(user=bob).read_at is not None
        # Focus stays on the item (its Delete button), for keyboard users.
        expect(item.get_by_role("button", name="Delete: New hire: Ada Lovelace")).to_be_focused()

        email = page.get_by_label("Employee hired: Email")
        expect(email).to_be_checked()
        expect(page.get_by_label("Critical alert: In the app")).to_be_disabled()  # can't mute critical in-app
        email.uncheck()
        page.get_by_role("button", name="Save preferences").click()
        expect(page.get_by_text("Your notification preferences were saved.")).to_be_visible()
        expect(page.get_by_label("Employee hired: Email")).not_to_be_checked()
        [pref] = NotificationPreference.objects.filter(user=bob)
        assert (pref.event, pref.channel, pref.enabled) == ("employee_hired", "email", False)
    finally:
        context.close()


def test_center__phone_width_dark_mode_and_keyboard(browser, server, bob):
    notify(bob.organization, "critical_alert", data={"summary": "Payroll export failed"}, recipients=[bob])
    context = browser.new_context(viewport={"width": 360, "height": 740}, color_scheme="dark", is_mobile=True)
    page = context.new_page()
    try:
        sign_in(page, server)
        item = page.locator("li.ntf", has_text="Critical alert: Payroll export failed")
        expect(item).to_have_class(re.compile(r"priority-critical"))
        # Nothing wider than the phone's screen.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(13, 17, 23)"  # the dark palette
        # The keyboard reaches the skip link first, then the bell.
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
        page.keyboard.press("Tab")
        expect(page.locator("#bell")).to_be_focused()
        # Delete with the keyboard: focus moves on, the list says it is empty.
        item.get_by_role("button", name=re.compile("^Delete")).focus()
        page.keyboard.press("Enter")
        expect(item).to_have_count(0)
        expect(page.locator("#empty")).to_be_visible()
        assert not Notification.objects.filter(user=bob).exists()
    finally:
        context.close()
