"""create_org_user and setup_demo, checked the way an operator would: by logging in."""

import os
import pty
import re
import select
import subprocess
import sys
import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from hcm.models import Organization, Role, User
from tests.workers import ROOT, worker_env


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def login(username: str, password: str) -> APIClient | None:
    client = APIClient()
    response = client.post("/api/auth/token/", {"username": username, "password": password}, format="json")
    if response.status_code != 200:
        return None
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


def test_create_org_user__creates_organization_and_user(db):
    out = run(
        "create_org_user", "--org", "initech", "--username", "peter", "--password", "tps-report-1",
        "--email", "peter@initech.example", "--role", "system_admin",
    )  # fmt: skip

    org = Organization.objects.get(slug="initech")
    user = User.objects.get(username="peter")
    assert (user.organization, user.role, user.email) == (org, Role.SYSTEM_ADMIN, "peter@initech.example")
    assert org.timezone == "UTC"
    assert "Created user peter (system_admin) in initech" in out
    client = login("peter", "tps-report-1")
    assert client is not None
    assert client.get("/api/system/notification-settings").json()["organization_id"] == org.pk


def test_create_org_user__role_defaults_to_member(db):
    run("create_org_user", "--org", "initech", "--username", "milton", "--password", "stapler-123")

    assert User.objects.get(username="milton").role == Role.MEMBER
    assert login("milton", "stapler-123").get("/api/system/notification-settings").status_code == 403


def test_create_org_user__second_run_updates_password_and_role(db):
    run("create_org_user", "--org", "initech", "--username", "peter", "--password", "old-password-1")

    out = run(
        "create_org_user", "--org", "initech", "--username", "peter", "--password", "new-password-2",
        "--role", "system_admin",
    )  # fmt: skip

    assert "Updated user peter (system_admin)" in out
    assert User.objects.filter(username="peter").count() == 1
    assert Organization.objects.filter(slug="initech").count() == 1
    assert User.objects.get(username="peter").role == Role.SYSTEM_ADMIN
    assert login("peter", "old-password-1") is None
    assert login("peter", "new-password-2").get("/api/system/notification-settings").status_code == 200


def test_create_org_user__org_name_is_used_for_a_new_organization(db):
    run(
        "create_org_user", "--org", "initech", "--org-name", "Initech LLC", "--username", "p", "--password", "pw-123456"
    )

    assert Organization.objects.get(slug="initech").name == "Initech LLC"


def test_create_org_user__bad_role_is_rejected(db):
    with pytest.raises(CommandError, match="role"):
        run("create_org_user", "--org", "initech", "--username", "peter", "--password", "pw-123456", "--role", "boss")

    assert not User.objects.filter(username="peter").exists()
    assert not Organization.objects.filter(slug="initech").exists()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--password", "short", "password: This password is too short"),
        ("--username", "peter smith!", "username: Enter a valid username"),
        ("--email", "not-an-email", "email: Enter a valid email address"),
        ("--org", "!!!", "organization slug"),
    ],
)
def test_create_org_user__bad_value_is_rejected_and_nothing_created(option, value, message, db):
    args = {"--org": "initech", "--username": "peter", "--password": "pw-123456", option: value}

    with pytest.raises(CommandError, match=message):
        run("create_org_user", *[x for pair in args.items() for x in pair])

    assert not User.objects.exists()
    assert not Organization.objects.exists()


def test_create_org_user__user_of_another_organization_is_not_moved(db):
    run("create_org_user", "--org", "initech", "--username", "peter", "--password", "pw-123456")

    with pytest.raises(CommandError, match="another organization"):
        run("create_org_user", "--org", "globex", "--username", "peter", "--password", "other-pw-1")

    assert User.objects.get(username="peter").organization.slug == "initech"
    assert login("peter", "pw-123456") is not None


@pytest.mark.parametrize("missing", ["--org", "--username", "--password"])
def test_create_org_user__required_options(missing, db):
    args = {"--org": "initech", "--username": "peter", "--password": "pw-123456"}
    del args[missing]

    with pytest.raises(CommandError, match=missing.lstrip("-")):
        run("create_org_user", *[x for pair in args.items() for x in pair])


def test_create_org_user__second_run_revokes_the_old_tokens(db):
    run("create_org_user", "--org", "initech", "--username", "peter", "--password", "old-password-1")
    client = login("peter", "old-password-1")

    run("create_org_user", "--org", "initech", "--username", "peter", "--password", "new-password-2")

    assert client.get("/api/notifications").status_code == 401


# --- where the password comes from ----------------------------------------------------------------


def test_create_org_user__password_from_the_environment(db, monkeypatch):
    monkeypatch.setenv("HCM_USER_PASSWORD", "from-the-env-1")

    out = run("create_org_user", "--org", "initech", "--username", "peter", "--no-input")

    assert "Created user peter" in out
    assert login("peter", "from-the-env-1") is not None


def test_create_org_user__password_option_wins_over_the_environment(db, monkeypatch):
    monkeypatch.setenv("HCM_USER_PASSWORD", "from-the-env-1")

    run("create_org_user", "--org", "initech", "--username", "peter", "--password", "on-the-line-2")

    assert login("peter", "on-the-line-2") is not None
    assert login("peter", "from-the-env-1") is None


def test_create_org_user__no_input_and_no_password_is_an_error(db, monkeypatch):
    monkeypatch.delenv("HCM_USER_PASSWORD", raising=False)

    with pytest.raises(CommandError, match="HCM_USER_PASSWORD"):
        run("create_org_user", "--org", "initech", "--username", "peter", "--no-input")

    assert not User.objects.exists()


@pytest.fixture
def real_hashers(settings):
    """The command runs in its own process, hashing with the real hashers; check with them too."""
    from django.conf import global_settings

    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS


def command_env() -> dict[str, str]:
    env = worker_env()
    env.pop("HCM_USER_PASSWORD", None)
    return env


@pytest.mark.django_db(transaction=True)
def test_create_org_user__without_a_terminal_or_password_exits_non_zero():
    result = subprocess.run(
        [sys.executable, "manage.py", "create_org_user", "--org", "initech", "--username", "peter"],
        cwd=ROOT, env=command_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert result.returncode == 1
    assert "No password: set HCM_USER_PASSWORD" in result.stderr
    assert not User.objects.exists()


def run_in_terminal(args: list[str], dialogue: list[tuple[str, str]], timeout: float = 120) -> tuple[int, str]:
    """Run manage.py ARGS with a pseudo-terminal as its controlling terminal (what getpass
    reads); answer each (prompt, reply) in turn once the prompt is shown. Returns the exit
    code and everything the terminal showed."""
    env = command_env()
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes manage.py, or exits
        try:
            os.chdir(ROOT)
            os.execve(sys.executable, [sys.executable, "manage.py", *args], env)
        finally:
            os._exit(127)
    shown = b""
    deadline = time.monotonic() + timeout  # a guard against a hung child, not a measurement
    pending = list(dialogue)
    answered_up_to = 0
    try:
        while time.monotonic() < deadline:
            if pending and pending[0][0].encode() in shown[answered_up_to:]:
                prompt, reply = pending.pop(0)
                answered_up_to = shown.index(prompt.encode(), answered_up_to) + len(prompt)
                os.write(fd, reply.encode() + b"\n")
                continue
            ready, _, _ = select.select([fd], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal (exited)
                break
            if not chunk:
                break
            shown += chunk
        else:
            os.kill(pid, 9)
            raise AssertionError(f"no exit within {timeout} s; the terminal showed:\n{shown.decode()}")
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    assert not pending, f"never asked {pending}; the terminal showed:\n{shown.decode()}"
    return os.waitstatus_to_exitcode(status), shown.decode()


@pytest.mark.django_db(transaction=True)
def test_create_org_user__prompts_twice_in_a_terminal_without_echo(real_hashers):
    code, shown = run_in_terminal(
        ["create_org_user", "--org", "initech", "--username", "peter", "--role", "system_admin"],
        [("Password: ", "typed-at-the-prompt-1"), ("Password (again): ", "typed-at-the-prompt-1")],
    )

    assert code == 0, shown
    assert "Created user peter (system_admin) in initech" in shown
    assert "typed-at-the-prompt-1" not in shown  # not echoed
    assert login("peter", "typed-at-the-prompt-1").get("/api/system/notification-settings").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_create_org_user__prompt_asks_again_after_a_mismatch_or_a_short_password(real_hashers):
    code, shown = run_in_terminal(
        ["create_org_user", "--org", "initech", "--username", "peter"],
        [
            ("Password: ", "first-try-12"), ("Password (again): ", "first-try-13"),
            ("Password: ", "short"), ("Password (again): ", "short"),
            ("Password: ", "third-try-12"), ("Password (again): ", "third-try-12"),
        ],
    )  # fmt: skip

    assert code == 0, shown
    assert "the passwords didn't match" in shown
    assert "too short" in shown
    assert login("peter", "third-try-12") is not None


@pytest.mark.django_db(transaction=True)
def test_create_org_user__prompt_gives_up_after_three_bad_entries():
    code, shown = run_in_terminal(
        ["create_org_user", "--org", "initech", "--username", "peter"],
        [("Password: ", "a-password-1"), ("Password (again): ", "b-password-2")] * 3,
    )

    assert code == 1, shown
    assert "No acceptable password after 3 attempts" in shown
    assert not User.objects.exists()


LOGIN = re.compile(r"Login: username=(\S+) password=(\S+)")


def test_setup_demo__prints_a_login_that_works_for_api_and_admin(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path

    out = run("setup_demo")

    username, password = LOGIN.search(out).groups()
    client = login(username, password)
    assert client is not None
    body = client.get("/api/system/notification-settings").json()
    assert body["organization_id"] == Organization.objects.get(slug="demo").pk
    from django.test import Client

    browser = Client()
    assert browser.login(username=username, password=password)
    assert browser.get("/admin/").status_code == 200
    saved = tmp_path / "demo-admin-password"
    assert saved.read_text().strip() == password
    assert saved.stat().st_mode & 0o777 == 0o600


def test_setup_demo__second_run_prints_the_same_login(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    first = LOGIN.search(run("setup_demo")).groups()

    second = LOGIN.search(run("setup_demo")).groups()

    assert second == first
    assert login(*second) is not None
    assert Organization.objects.filter(slug="demo").count() == 1


def test_setup_demo__does_not_reset_a_password_the_operator_changed(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    run("setup_demo")
    admin = User.objects.get(username="admin")
    admin.set_password("operator-chose-this")
    admin.save()

    out = run("setup_demo")

    assert "password was changed; not shown" in out
    assert not LOGIN.search(out)
    assert login("admin", "operator-chose-this") is not None
