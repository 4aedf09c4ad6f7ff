"""Password guessing limits on the token endpoint and the login forms (admin, browsable API),
per client address and per username; and the failed-login log line."""

import logging

import pytest
from django.test import Client
from rest_framework.test import APIClient

from hcm.login_limits import client_address, login_attempt_check
from tests.factories import PASSWORD

TOKEN_URL = "/api/auth/token/"
ADMIN_LOGIN = "/admin/login/"
WRONG = "wrong-password-123"


@pytest.fixture
def limits(settings):
    """Small budgets so a test spends one in a few calls, counted per hour: a one-minute
    window could end mid-test and restart the count (django-ratelimit's fixed windows)."""

    def set_limits(*, ip: str = "1000/m", username: str = "1000/m") -> None:
        settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_ip": ip, "login_username": username}

    return set_limits


def api_login(username: str, password: str, address: str = "10.0.0.1", **headers: str):
    client = APIClient(REMOTE_ADDR=address, **headers)  # type: ignore[arg-type]  # WSGI environ keys
    return client.post(TOKEN_URL, {"username": username, "password": password}, format="json")


def form_login(path: str, username: str, password: str, address: str = "10.0.0.1"):
    return Client(REMOTE_ADDR=address).post(path, {"username": username, "password": password})


# --- the token endpoint -------------------------------------------------------------------------


def test_api__per_address__over_the_budget_is_429_with_retry_after(limits, admin_user):
    limits(ip="3/h")
    for username in ["alice", "bob", "carol"]:
        assert api_login(username, WRONG).status_code == 401

    refused = api_login("dave", WRONG)

    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 3600
    assert "from your address" in refused.json()["detail"]


def test_api__per_address__the_right_password_is_refused_too_and_other_addresses_go_on(limits, admin_user):
    limits(ip="2/h")
    api_login("alice", WRONG)
    api_login("alice", WRONG)

    assert api_login("alice", PASSWORD).status_code == 429
    assert api_login("alice", PASSWORD, address="10.0.0.2").status_code == 200


def test_api__per_username__over_the_budget_is_429_from_any_address(limits, admin_user):
    limits(username="3/h")
    for address in ["10.0.0.1", "10.0.0.2", "10.0.0.3"]:
        assert api_login("alice", WRONG, address).status_code == 401

    refused = api_login("alice", PASSWORD, "10.0.0.4")

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert "for this username" in refused.json()["detail"]


def test_api__per_username__case_does_not_give_a_new_budget(limits, admin_user):
    limits(username="2/h")
    api_login("alice", WRONG, "10.0.0.1")
    api_login("ALICE", WRONG, "10.0.0.2")

    assert api_login("Alice", WRONG, "10.0.0.3").status_code == 429


def test_api__per_username__other_users_are_not_affected(limits, admin_user, member_user):
    limits(username="2/h")
    api_login("alice", WRONG)
    api_login("alice", WRONG)

    assert api_login("bob", PASSWORD).status_code == 200


def test_api__unknown_usernames_spend_their_budget_like_real_ones(limits, db):
    limits(username="1/h")
    assert api_login("nobody", WRONG).status_code == 401

    assert api_login("nobody", WRONG, "10.0.0.2").status_code == 429


@pytest.mark.parametrize("username", ["\x00", "\ud800", "x" * 10_000], ids=["nul", "surrogate", "long"])
def test_counting__any_username_text_counts_without_error(username, limits, rf):
    limits(username="1/h")
    request = rf.post(TOKEN_URL)

    assert login_attempt_check(request, username=username) is None
    assert login_attempt_check(request, username=username).limit == "login_username"


def test_api__x_forwarded_for_is_not_trusted_by_default(limits, admin_user):
    limits(ip="2/h")
    api_login("alice", WRONG, HTTP_X_FORWARDED_FOR="192.0.2.1")
    api_login("bob", WRONG, HTTP_X_FORWARDED_FOR="192.0.2.2")

    assert api_login("carol", WRONG, HTTP_X_FORWARDED_FOR="192.0.2.3").status_code == 429


def test_api__the_proxy_header_counts_when_configured(limits, admin_user, settings):
    settings.LOGIN_CLIENT_IP_HEADER = "X-Forwarded-For"
    limits(ip="1/h")
    # One proxy at 10.0.0.1; what the client wrote comes first, what the proxy saw last.
    assert api_login("alice", WRONG, HTTP_X_FORWARDED_FOR="203.0.113.9, 192.0.2.1").status_code == 401

    assert api_login("bob", WRONG, HTTP_X_FORWARDED_FOR="203.0.113.10, 192.0.2.1").status_code == 429
    assert api_login("carol", WRONG, HTTP_X_FORWARDED_FOR="192.0.2.2").status_code == 401


def test_api__with_limits_disabled_nothing_is_counted(limits, admin_user, settings):
    settings.RATELIMIT_ENABLE = False
    limits(ip="1/h", username="1/h")

    assert [api_login("alice", WRONG).status_code for _ in range(3)] == [401, 401, 401]


# --- the login forms ----------------------------------------------------------------------------


@pytest.fixture
def operator(admin_user):
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    return admin_user


@pytest.mark.parametrize("path", [ADMIN_LOGIN, "/api-auth/login/"])
def test_form__per_address__over_the_budget_is_a_429_page(path, limits, operator):
    limits(ip="2/h")
    assert form_login(path, "alice", WRONG).status_code == 200  # the form again, with its error
    assert form_login(path, "bob", WRONG).status_code == 200

    refused = form_login(path, "alice", PASSWORD)

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    page = refused.content.decode()
    assert "Too many login attempts from your address." in page
    assert "Try again in" in page
    assert "no-cache" in refused["Cache-Control"] or "no-store" in refused["Cache-Control"]


def test_admin__per_username__over_the_budget_is_a_429_page_and_no_session(limits, operator):
    limits(username="2/h")
    form_login(ADMIN_LOGIN, "alice", WRONG, "10.0.0.1")
    form_login(ADMIN_LOGIN, "alice", WRONG, "10.0.0.2")
    browser = Client(REMOTE_ADDR="10.0.0.3")

    refused = browser.post(ADMIN_LOGIN, {"username": "alice", "password": PASSWORD})

    assert refused.status_code == 429
    assert "Too many login attempts for this username." in refused.content.decode()
    assert browser.get("/admin/").status_code == 302  # still signed out


def test_admin__below_the_budget_logs_in(limits, operator):
    limits(ip="3/h", username="3/h")
    form_login(ADMIN_LOGIN, "alice", WRONG)
    browser = Client(REMOTE_ADDR="10.0.0.1")

    response = browser.post(ADMIN_LOGIN, {"username": "alice", "password": PASSWORD})

    assert response.status_code == 302
    assert browser.get("/admin/").status_code == 200


def test_admin__get_of_the_login_page_spends_nothing(limits, operator):
    limits(ip="1/h")
    for _ in range(3):
        assert Client(REMOTE_ADDR="10.0.0.1").get(ADMIN_LOGIN).status_code == 200

    assert form_login(ADMIN_LOGIN, "alice", PASSWORD).status_code == 302


def test_doors_share_the_budget__guesses_on_the_api_count_at_the_admin(limits, operator):
    limits(username="2/h")
    api_login("alice", WRONG, "10.0.0.1")
    api_login("alice", WRONG, "10.0.0.2")

    assert form_login(ADMIN_LOGIN, "alice", PASSWORD, "10.0.0.3").status_code == 429


# --- the failed-login log line ------------------------------------------------------------------


def _failed_login_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "hcm.login_limits" and r.getMessage() == "login failed"]


@pytest.mark.parametrize("door", ["api", "admin"])
def test_failed_login__logs_username_and_address_never_the_password(door, caplog, operator):
    secret = "Guess-0f-the-day"
    caplog.set_level(logging.INFO)

    if door == "api":
        assert api_login("alice", secret, "198.51.100.7").status_code == 401
    else:
        assert form_login(ADMIN_LOGIN, "alice", secret, "198.51.100.7").status_code == 200

    [record] = _failed_login_records(caplog)
    assert (record.username, record.client) == ("alice", "198.51.100.7")
    assert secret not in caplog.text
    assert not [r for r in caplog.records if secret in repr(vars(r))]


def test_failed_login__the_refusal_is_logged_too_without_the_password(caplog, limits, admin_user):
    limits(username="1/h")
    caplog.set_level(logging.INFO)
    api_login("alice", "first-guess-1")

    api_login("alice", "second-guess-2")

    refused = [r for r in caplog.records if r.getMessage() == "login refused: too many attempts"]
    assert [(r.username, r.limit) for r in refused] == [("alice", "login_username")]
    assert "guess" not in caplog.text


def test_successful_login__logs_no_failure(caplog, admin_user):
    caplog.set_level(logging.INFO)

    assert api_login("alice", PASSWORD).status_code == 200

    assert _failed_login_records(caplog) == []


# --- the client address -------------------------------------------------------------------------


class _Request:
    def __init__(self, **meta: str) -> None:
        self.META = meta


@pytest.mark.parametrize(
    ("meta", "header", "expected"),
    [
        ({"REMOTE_ADDR": "192.0.2.1"}, "", "192.0.2.1"),
        ({"REMOTE_ADDR": "2001:db8:1:2:3:4:5:6"}, "", "2001:db8:1:2::"),
        ({"REMOTE_ADDR": "::ffff:192.0.2.1"}, "", "192.0.2.1"),
        ({"REMOTE_ADDR": "192.0.2.1", "HTTP_X_FORWARDED_FOR": "203.0.113.1"}, "", "192.0.2.1"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_REAL_IP": "203.0.113.1"}, "X-Real-IP", "203.0.113.1"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_REAL_IP": "not-an-address"}, "X-Real-IP", "10.0.0.1"),
        ({"REMOTE_ADDR": "10.0.0.1"}, "X-Real-IP", "10.0.0.1"),
    ],
    ids=["ipv4", "ipv6-per-64", "ipv4-mapped", "xff-ignored", "proxy-header", "bad-header", "header-missing"],
)
def test_client_address(meta, header, expected, settings):
    settings.LOGIN_CLIENT_IP_HEADER = header

    assert client_address(_Request(**meta)) == expected
