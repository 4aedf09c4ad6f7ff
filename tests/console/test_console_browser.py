"""The operator console in a real browser (Playwright driving Debian's chromium) at 1280 × 800:
every list fits without a sideways scroll, the dashboard updates itself when a real worker
finishes a job, a bulk retry by filter over 10,000 jobs, the job form, a finished job's
read-only page, dark mode.

Screenshots of every page land in var/screenshots/ (printed at the end of the run) for a
reviewer to look at.
"""

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import quote
from django.utils import timezone

from hcm.models import Role, User
from jobs.models import (
    AttemptOutcome,
    BackgroundJob,
    JobAttempt,
    JobSchedule,
    JobStatus,
    JobTypePause,
    WorkerHeartbeat,
)
from jobs.schedules import job_schedule_create, job_schedule_run_now
from jobs.services import job_enqueue
from notifications.models import Delivery, DeliveryStatus, Notification
from notifications.services.notify import notify
from tests.console.conftest import make_attempt, make_job
from tests.factories import PASSWORD, make_org, make_user
from tests.notifications.conftest import configure
from tests.workers import run_burst

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"browser tests need Debian's chromium at {CHROMIUM}"),
]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements.txt)")


@pytest.fixture(scope="module")
def browser() -> Iterator:
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # synchronous, so Django's async-safety check is off for this module.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    print(f"\nconsole screenshots: {SCREENSHOTS}")
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def signed_in(browser, live_server, *, color_scheme: str = "light"):
    context = browser.new_context(viewport=VIEWPORT, color_scheme=color_scheme)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


@pytest.fixture
def operator(transactional_db):
    return User.objects.create_superuser(username="root", email="root@example.com", password=PASSWORD)


@pytest.fixture
def page(browser, live_server, operator):
    page = signed_in(browser, live_server)
    yield page
    page.context.close()


@pytest.fixture
def dark_page(browser, live_server, operator):
    page = signed_in(browser, live_server, color_scheme="dark")
    yield page
    page.context.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def clipped_cells(page, column: str) -> list[str]:
    """Cells of a list column whose content is wider than the cell (cut off)."""
    return page.locator(f"#result_list .field-{column}").evaluate_all(
        "cells => cells.filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.textContent)"
    )


def console_data():
    """A bit of everything the lists show, two organizations, one with a long name."""
    now = timezone.now()
    org = make_org("acme")
    long = make_org("northwind", name="Northwind Traders International Holdings")
    for status in JobStatus.values:
        make_job(org, status=status, completed_at=now - timedelta(minutes=4), progress=30)
    failed = make_job(
        long, status=JobStatus.FAILED, completed_at=now, error_message="RuntimeError: " + "x" * 300, retry_count=3
    )
    attempt = make_attempt(failed, finished_at=now, outcome=AttemptOutcome.FAILED, ms=1234.5)
    JobAttempt.objects.filter(pk=attempt.pk).update(error_message=failed.error_message, traceback="Traceback …")
    WorkerHeartbeat.objects.create(
        worker_id="web-1.example.internal:4242:a1b2c3",
        hostname="web-1.example.internal",
        pid=4242,
        concurrency=4,
        job_types=["email_send", "notification_delivery"],
        started_at=now - timedelta(hours=3),
        last_seen_at=now,
        jobs_done=123456,
        jobs_failed=12,
    )
    make_user(org, role=Role.SYSTEM_ADMIN, username="alice")
    configure(org, email_enabled=True, email_on_critical_alerts=True, email_from_address="hr@acme.example")
    notify(org, "critical_alert", data={"summary": "Disk full on db-1"})
    Delivery.objects.update(
        status=DeliveryStatus.FAILED,
        last_error="SMTPRecipientsRefused: {'ops@acme.example': (550, b'5.1.1 mailbox unavailable')}",
        attempts=3,
    )
    assert Delivery.objects.exists() and Notification.objects.exists()
    for organization, name, job_type, payload in [
        (org, "flush report cache", "cache_flush", {"action": "partial", "prefix": "reports:"}),
        (None, "nightly optimize", "db_optimize", {}),
    ]:
        schedule = job_schedule_create(
            organization=organization,
            name=name,
            job_type=job_type,
            payload=payload,
            cron_expression="*/5 * * * *",
            created_by="root",
        )
        job = job_schedule_run_now(schedule=schedule, by="root")
        JobSchedule.objects.filter(pk=schedule.pk).update(last_run_at=now - timedelta(minutes=3), last_job_id=job.pk)


LISTS = [
    (
        "jobs",
        "/admin/jobs/backgroundjob/",
        [
            "id",
            "job_type",
            "org",
            "status_badge",
            "priority_label",
            "progress_bar",
            "attempts_label",
            "created",
            "finished",
        ],
    ),
    (
        "deliveries",
        "/admin/notifications/delivery/",
        ["id", "organization", "channel", "recipient", "status", "attempts", "sent", "short_error"],
    ),
    ("notifications", "/admin/notifications/notification/", ["id", "created", "type", "priority", "status", "read"]),
    ("schedules", "/admin/jobs/jobschedule/", ["name", "scope", "job_type", "next_run", "last_run", "last_job"]),
    (
        "workers",
        "/admin/jobs/workerheartbeat/",
        ["worker_id", "state", "last_heartbeat", "jobs_done", "jobs_failed"],
    ),
    ("notification-settings", "/admin/notifications/notificationsettings/", ["organization", "sms_on", "slack_on"]),
]


@pytest.mark.parametrize("name, path, columns", LISTS, ids=[n for n, _, _ in LISTS])
def test_list__fits_1280_px_with_the_named_columns_visible(page, live_server, name, path, columns):
    console_data()

    page.goto(f"{live_server.url}{path}")

    shot(page, f"list-{name}")
    assert no_sideways_scroll(page)
    results = page.locator("#changelist .results")
    assert results.evaluate("r => r.scrollWidth <= r.clientWidth")  # the table is not scrolled inside either
    right_edge = min(results.bounding_box()["x"] + results.bounding_box()["width"], VIEWPORT["width"])
    for column in columns:
        header = page.locator(f"#result_list thead th.column-{column}")
        assert header.is_visible(), column
        box = header.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= right_edge + 1, column
        assert clipped_cells(page, column) == [], column


def test_list__the_job_list_refreshes_itself_and_can_be_paused(page, live_server):
    org = make_org("acme")
    page.goto(f"{live_server.url}/admin/jobs/backgroundjob/")
    page.evaluate("window.notReloaded = true")
    assert page.locator("#result_list").count() == 0  # no jobs yet

    make_job(org)

    page.wait_for_selector("#result_list tbody tr")
    assert page.evaluate("window.notReloaded") is True
    assert page.locator(".live-stamp").inner_text().startswith("Updated ")

    page.uncheck(".live-toggle")
    make_job(org)
    page.wait_for_timeout(6_000)  # longer than a refresh period: nothing may change while paused
    assert page.locator("#result_list tbody tr").count() == 1
    page.check(".live-toggle")
    page.wait_for_function("document.querySelectorAll('#result_list tbody tr').length === 2")


def test_dashboard__updates_after_a_worker_completes_a_job_without_a_reload(page, live_server, tmp_path):
    org = make_org("acme")
    job, _ = job_enqueue(organization=org, job_type="noop")
    page.goto(f"{live_server.url}/admin/jobs/dashboard/")
    page.evaluate("window.notReloaded = true")
    row = page.locator('#job-types tr[data-job-type="noop"]')
    assert row.locator("td.queued").inner_text() == "1"
    assert page.locator('td.count[data-status="completed"]').inner_text() == "0"
    first_stamp = page.locator(".live-stamp").get_attribute("data-updated-at")

    run_burst(log_dir=tmp_path)  # a real worker takes the job and completes it

    assert BackgroundJob.objects.get(pk=job.pk).status == JobStatus.COMPLETED
    page.wait_for_function("document.querySelector('td.count[data-status=\"completed\"]').textContent.trim() === '1'")
    assert page.evaluate("window.notReloaded") is True
    assert row.locator("td.queued").inner_text() == "0"
    assert row.locator("td.throughput a").get_attribute("title") == "1 completed in the last hour"
    assert page.locator(".live-stamp").get_attribute("data-updated-at") != first_stamp
    shot(page, "dashboard")


def test_dashboard__recent_failures_and_job_type_numbers_link_to_the_filtered_list(page, live_server):
    console_data()
    page.goto(f"{live_server.url}/admin/jobs/dashboard/")
    assert no_sideways_scroll(page)
    failure = page.locator("#recent-failures tbody tr").first
    assert "RuntimeError: xxx" in failure.inner_text()

    page.locator('#job-types tr[data-job-type="noop"] td.failed a').click()

    page.wait_for_url("**/admin/jobs/backgroundjob/?**recent=failed_1h**")
    shown = page.locator("#result_list tbody tr").count()
    assert shown == 2  # acme's and northwind's failed noop jobs, both in the last hour


def test_bulk_retry_by_filter__10000_failed_jobs(page, live_server):
    org = make_org("acme")
    now = timezone.now()
    BackgroundJob.objects.bulk_create(
        [
            BackgroundJob(
                organization=org,
                job_type="noop",
                status=JobStatus.FAILED,
                error_message="boom",
                retry_count=3,
                completed_at=now,
                created_at=now - timedelta(seconds=i),
            )
            for i in range(10_000)
        ],
        batch_size=2_000,
    )
    make_job(org, status=JobStatus.COMPLETED)
    page.goto(f"{live_server.url}/admin/jobs/backgroundjob/?status__exact=failed")

    page.click("a.bulk-op-retry")

    page.wait_for_selector("#bulk-count")
    assert page.locator("#bulk-count").inner_text() == "10000"
    assert "status__exact='failed'" in page.locator("#bulk-filter").inner_text()
    shot(page, "bulk-retry-confirmation")
    page.click("#confirm-bulk")
    page.wait_for_selector("ul.messagelist")
    assert page.locator("ul.messagelist li").inner_text() == "10000 job(s) queued again."
    assert BackgroundJob.objects.filter(status=JobStatus.QUEUED).count() == 10_000
    assert not BackgroundJob.objects.filter(status=JobStatus.FAILED).exists()
    entry = LogEntry.objects.get()
    assert entry.object_repr == "10000 background job(s)"
    assert "Filter: status__exact='failed'" in entry.change_message


def test_job_form__payload_checked_against_the_schema_then_the_job_page(page, live_server):
    make_org("acme")
    page.goto(f"{live_server.url}/admin/jobs/backgroundjob/add/")
    page.select_option("#id_job_type", "cache_flush")
    page.select_option("#id_organization", label="Acme")
    page.fill("#id_payload", '{"action": "partial"}')
    page.click("input[name=_save]")

    page.wait_for_selector(".errorlist")
    assert "prefix: Required when action is partial." in page.locator(".field-payload .errorlist").inner_text()
    shot(page, "job-form-error")
    page.fill("#id_payload", '{"action": "partial", "prefix": "reports:"}')
    page.click("input[name=_save]")

    job = BackgroundJob.objects.get()
    page.wait_for_url(f"**/admin/jobs/backgroundjob/{quote(job.pk)}/change/")
    assert page.locator("p.object-id code").inner_text() == job.pk
    assert (job.job_type, job.payload, job.created_by) == (
        "cache_flush",
        {"action": "partial", "prefix": "reports:"},
        "root",
    )
    shot(page, "job-created")


def test_finished_job__read_only_with_a_wrapped_traceback_and_a_retry_button(page, live_server):
    org = make_org("acme")
    job = make_job(org, status=JobStatus.FAILED, error_message="boom", completed_at=timezone.now())
    attempt = make_attempt(job, finished_at=timezone.now(), outcome=AttemptOutcome.FAILED)
    attempt.traceback = "Traceback (most recent call last):\n  " + "File 'x'.py, " * 60 + "\nRuntimeError: " + "y" * 400
    attempt.save()

    page.goto(f"{live_server.url}/admin/jobs/backgroundjob/{quote(job.pk)}/change/")
    page.click(".field-trace summary")

    assert no_sideways_scroll(page)
    assert page.locator("input[name=_save]").count() == 0
    assert page.locator("select, input[type=text], input[type=number]").count() == 0
    assert page.locator("a.job-action-retry").is_visible()
    assert page.locator("a.job-action-cancel").count() == 0
    shot(page, "job-finished-read-only")

    page.click("a.job-action-retry")
    page.click("#confirm-action")
    page.wait_for_selector("ul.messagelist")
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert page.locator("a.job-action-cancel").is_visible()  # the buttons follow the new status


def test_copy_id__puts_the_real_id_on_the_clipboard(page, live_server):
    org = make_org("acme")
    job = make_job(org)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"{live_server.url}/admin/jobs/backgroundjob/")

    page.locator(f'#result_list .field-id button[data-copy="{job.pk}"]').click()

    assert page.evaluate("navigator.clipboard.readText()") == job.pk
    assert "_5F" in page.locator("#result_list .field-id a").get_attribute("href")  # what the URL shows instead


@pytest.mark.parametrize(
    "name, path",
    [
        ("dashboard", "/admin/jobs/dashboard/"),
        ("jobs", "/admin/jobs/backgroundjob/"),
        ("deliveries", "/admin/notifications/delivery/"),
    ],
)
def test_dark_mode__pages_follow_the_dark_theme(dark_page, live_server, name, path):
    console_data()

    dark_page.goto(f"{live_server.url}{path}")

    shot(dark_page, f"dark-{name}")
    assert no_sideways_scroll(dark_page)
    background = dark_page.evaluate("getComputedStyle(document.body).backgroundColor")
    channels = [int(c) for c in background[background.index("(") + 1 : -1].split(",")[:3]]
    assert max(channels) < 80, background  # a dark page
    if name == "dashboard":
        text = dark_page.evaluate("getComputedStyle(document.querySelector('svg.chart')).color")
        assert min(int(c) for c in text[text.index("(") + 1 : -1].split(",")[:3]) > 150, text  # light axis text


def test_dashboard__pause_service_wide_asks_first_then_resume(page, live_server):
    make_org("acme")
    page.goto(f"{live_server.url}/admin/jobs/dashboard/")
    row = page.locator('#job-types tr[data-job-type="email_send"]')
    page.once("dialog", lambda dialog: dialog.accept())

    row.locator("input.pause-service-wide").click()

    page.wait_for_selector("ul.messagelist")
    assert "Paused email_send service-wide" in page.locator("ul.messagelist").text_content()
    assert row.locator("td.state").inner_text() == "paused service-wide"
    assert JobTypePause.objects.filter(job_type="email_send", organization=None).exists()
    shot(page, "dashboard-paused")

    page.select_option("#pause-job-type", "email_send")
    page.select_option("#pause-organization", "")
    page.click("#resume-button")
    page.wait_for_selector("ul.messagelist li.success")
    assert page.locator("ul.messagelist").text_content().strip() == "Resumed email_send service-wide."
    assert not JobTypePause.objects.exists()
