"""The operator console driven in a real headless browser (Playwright + Debian's chromium)
against a live server: sign in, the dashboard, the job list filter, an admin action, and the
test-email button with a real SMTP server.

Needs /usr/bin/chromium (`apt-get install chromium`); without it these tests are skipped.
Playwright only drives that binary: `playwright install` is never needed.
"""

import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib.admin.utils import quote
from django.test import override_settings
from django.utils import timezone

from hcm.models import User
from jobs.models import AttemptOutcome, BackgroundJob, JobAttempt, JobStatus, WorkerHeartbeat
from jobs.services import job_type_pause
from notifications.services.notification_settings import notification_settings_get
from tests.console.conftest import make_attempt, make_job
from tests.factories import PASSWORD
from tests.servers import SMTPServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path("/tmp/dashboard.png")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)",
    ),
]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements.txt)")


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


@pytest.fixture
def operator_page(browser, live_server, transactional_db):
    """A browser tab signed in to the admin as a superuser, through the login form."""
    User.objects.create_superuser(username="root", email="root@example.com", password=PASSWORD)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    yield page
    context.close()


def message_texts(page) -> list[str]:
    return [m.strip() for m in page.locator("ul.messagelist li").all_inner_texts()]


def test_dashboard__charts_drawn_inline_and_numbers_match_the_database(operator_page, live_server, org):
    page = operator_page
    now = timezone.now()
    for _ in range(3):
        make_job(org, status=JobStatus.FAILED)
    make_job(org, available_at=now - timedelta(minutes=2))
    make_job(org, available_at=now + timedelta(hours=2))
    make_job(org, status=JobStatus.PROCESSING, progress=40)
    done = make_job(org, status=JobStatus.COMPLETED)
    for hours_ago, outcome in [(0, "completed"), (1, "completed"), (2, "failed"), (30, "completed"), (50, "timeout")]:
        make_attempt(done, finished_at=now - timedelta(hours=hours_ago), outcome=outcome, ms=20.0 + hours_ago)

    WorkerHeartbeat.objects.create(
        worker_id="web-1:4242:a1b2", hostname="web-1", pid=4242, concurrency=2, started_at=now, last_seen_at=now
    )

    page.click("text=Background jobs dashboard")  # the link on the admin index

    page.wait_for_url(f"{live_server.url}/admin/jobs/dashboard/")
    assert page.locator("#content-main svg.chart").count() == 5
    for status in JobStatus.values:
        shown = page.locator(f'td.count[data-status="{status}"]').inner_text()
        assert int(shown) == BackgroundJob.objects.filter(status=status).count(), status
    assert page.locator('[data-metric="queued"] .value').inner_text() == "2"
    assert page.locator('[data-metric="due"] .value').inner_text() == "1"
    assert page.locator('[data-metric="scheduled"] .value').inner_text() == "1"
    assert page.locator('[data-metric="processing"] .value').inner_text() == "1"
    week = page.locator('.period[data-period="1"]')  # every attempt above finished in the last 7 days
    completed = JobAttempt.objects.filter(outcome=AttemptOutcome.COMPLETED).count()
    failed = JobAttempt.objects.exclude(outcome=AttemptOutcome.COMPLETED).count()
    assert (int(week.locator(".completed").inner_text()), int(week.locator(".failed").inner_text())) == (
        completed,
        failed,
    )
    assert week.locator(".rate").inner_text() == f"{round(100 * failed / (completed + failed), 1)}%"
    worker = page.locator("#workers tbody tr").locator("td").all_inner_texts()
    assert worker[:3] == ["web-1:4242:a1b2", "alive", "web-1"]
    assert worker[5].startswith(timezone.localtime(now).strftime("%Y-%m-%d %H:%M:%S"))  # last heartbeat
    # Hovering a bar shows its exact value (the SVG <title>).
    assert page.locator("#chart-status rect title", has_text="Failed").text_content() == "Failed: 3"
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_dashboard__shows_paused_types(operator_page, live_server, org):
    make_job(org)
    job_type_pause(job_type="noop", organization=None, by="root")

    operator_page.goto(f"{live_server.url}/admin/jobs/dashboard/")

    row = operator_page.locator("#paused tbody tr")
    assert row.count() == 1
    assert row.locator("td").all_inner_texts()[:3] == ["noop", "Service-wide", "1"]
    assert operator_page.locator('[data-metric="paused"] .value').inner_text() == "1"


def test_job_list__status_filter_shows_only_those_jobs(operator_page, live_server, org):
    failed = [make_job(org, status=JobStatus.FAILED) for _ in range(2)]
    make_job(org, status=JobStatus.COMPLETED)
    make_job(org)

    operator_page.goto(f"{live_server.url}/admin/jobs/backgroundjob/")
    operator_page.locator("#changelist-filter a", has_text=re.compile(r"^Failed$")).click()

    operator_page.wait_for_url(re.compile(r"status__exact=failed"))
    shown = operator_page.locator("#result_list input[name=_selected_action]").evaluate_all(
        "boxes => boxes.map(b => b.value)"
    )
    assert sorted(shown) == sorted(j.pk for j in failed)


def test_job_list__retry_action_queues_a_failed_job(operator_page, live_server, org):
    job = make_job(org, status=JobStatus.FAILED, error_message="boom", retry_count=3)
    page = operator_page
    page.goto(f"{live_server.url}/admin/jobs/backgroundjob/?status__exact=failed")

    page.check(f'#result_list input[name=_selected_action][value="{job.pk}"]')
    page.select_option("select[name=action]", "retry_jobs")
    page.click("button[name=index]")

    page.wait_for_selector("ul.messagelist")
    assert message_texts(page) == ["1 job(s) queued again."]
    job.refresh_from_db()
    assert (job.status, job.retry_count, job.error_message) == (JobStatus.QUEUED, 0, None)


def test_notification_settings__test_email_button_reports_the_message_id(operator_page, live_server, org):
    ns = notification_settings_get(organization=org)
    ns.email_from_address = "hr@acme.example"
    ns.save()
    page = operator_page

    with (
        SMTPServer() as smtp,
        override_settings(  # the live server's thread reads the same settings object
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=smtp.port,
            EMAIL_USE_TLS=False,
            EMAIL_TIMEOUT=5.0,
        ),
    ):
        page.goto(f"{live_server.url}/admin/notifications/notificationsettings/{quote(ns.pk)}/change/")
        page.fill("#id_test_email_recipient", "ops@example.com")
        page.click("#send-test-email")
        page.wait_for_selector("ul.messagelist")

    assert page.url == f"{live_server.url}/admin/notifications/notificationsettings/{quote(ns.pk)}/change/"
    assert len(smtp.messages) == 1
    assert smtp.messages[0]["To"] == "ops@example.com"
    assert message_texts(page) == [f"Test email sent to ops@example.com. Message id: {smtp.messages[0]['Message-ID']}"]
    # …and the audit log shows who sent it.
    page.goto(f"{live_server.url}/admin/admin/logentry/")
    assert "Sent a test email to ops@example.com" in page.locator("#result_list").inner_text()
    assert "root" in page.locator("#result_list").inner_text()


def test_swagger_ui__renders_the_api_from_local_files_only(browser, live_server, transactional_db):
    page = browser.new_page()
    hosts = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    try:
        page.goto(f"{live_server.url}/api/docs/")
        page.wait_for_selector(".opblock-summary-path")  # Swagger UI drew the operations

        paths = page.locator(".opblock-summary-path").all_inner_texts()
        assert "/api/system/notification-settings" in [p.replace("\u200b", "") for p in paths]
        assert hosts == {urlsplit(live_server.url).netloc}  # no CDN, no other host
    finally:
        page.close()
