"""Hostile input, as an attacker would send it: NUL characters, lone surrogates, JSON nested
thousands deep, integers past 64 bits, broken percent-escapes. Every write endpoint (and a
few reads) answers 400 naming the field, and nothing is saved, on SQLite and PostgreSQL."""

import asyncio
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
from django.apps import apps
from django.contrib.admin.utils import quote
from django.core.handlers.asgi import ASGIRequest
from django.test import Client
from django.urls import reverse
from hypothesis import strategies as st
from rest_framework.test import APIClient

from hcm import json_guard
from hcm.middleware import HostileInputMiddleware
from hcm.models import User
from jobs.models import JobSchedule
from jobs.services import job_enqueue
from notifications.models import NotificationSettings
from tests.conftest import client_for
from tests.factories import PASSWORD
from tests.hcm.test_admin import form_data

DEEP = 5000  # far past the cap (API_JSON_MAX_DEPTH), and past Python's recursion limit


# --- what is in the database ---------------------------------------------------------------


def database_state() -> dict[str, list[str]]:
    """Every row of the project's own models, so a test can tell that nothing was saved."""
    state = {}
    for app in ("hcm", "jobs", "notifications"):
        for model in apps.get_app_config(app).get_models():
            if model._meta.model_name in ("workerheartbeat", "auditlogentry"):
                continue
            state[model._meta.label] = sorted(map(repr, model._default_manager.values_list()))
    return state


# --- the endpoints ----------------------------------------------------------------------------


@dataclass
class Endpoint:
    method: str
    url: str  # {job}, {schedule}, {notification} are filled with real ids
    body: dict[str, Any]
    text: str  # a text field of the body (dotted path)
    json_field: str | None = None  # a free-form JSON object field, if the endpoint has one
    int_field: str | None = None  # an integer field (dotted path)
    auth: bool = True
    extra: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.method} {self.url}"


WRITES = [
    Endpoint(
        "PUT",
        "/api/system/notification-settings",
        {"email_from_name": "Acme HR", "custom_settings": {"theme": "dark"}},
        text="email_from_name",
        json_field="custom_settings",
    ),
    Endpoint(
        "PATCH",
        "/api/system/notification-settings/",
        {"custom_settings": {"theme": "dark"}},
        text="custom_settings.theme",
        json_field="custom_settings",
    ),
    Endpoint(
        "POST",
        "/api/notifications",
        {"title": "Hello", "metadata": {"k": "v"}, "recipients": [1]},
        text="title",
        json_field="metadata",
        int_field="recipients.0",
    ),
    Endpoint("PUT", "/api/notifications/contact", {"phone": "+15551234567"}, text="phone"),
    Endpoint("PATCH", "/api/notifications/contact/", {"phone": "+15551234567"}, text="phone"),
    Endpoint(
        "POST",
        "/api/system/notification-events",
        {"event": "critical_alert", "data": {"summary": "Disk full"}, "recipients": [1]},
        text="data.summary",
        json_field="data",
        int_field="recipients.0",
    ),
    Endpoint(
        "POST",
        "/api/system/background-jobs",
        {"job_type": "email_send", "payload": {"to": "a@example.com", "subject": "Hi", "body": "Hello"}},
        text="payload.to",
        json_field="payload",
        int_field="max_retries",
    ),
    Endpoint("POST", "/api/system/background-jobs/pause", {"job_type": "email_send"}, text="job_type"),
    Endpoint("POST", "/api/system/background-jobs/resume", {"job_type": "email_send"}, text="job_type"),
    Endpoint(
        "POST",
        "/api/system/job-schedules",
        {"name": "nightly", "job_type": "cache_flush", "payload": {"action": "full"}, "cron_expression": "@daily"},
        text="name",
        json_field="payload",
    ),
    Endpoint(
        "PUT",
        "/api/system/job-schedules/{schedule}",
        {"name": "renamed", "job_type": "cache_flush", "payload": {"action": "full"}, "cron_expression": "@daily"},
        text="cron_expression",
        json_field="payload",
    ),
    Endpoint(
        "PATCH",
        "/api/system/job-schedules/{schedule}",
        {"payload": {"action": "partial", "prefix": "x"}},
        text="payload.prefix",
        json_field="payload",
    ),
    Endpoint("POST", "/api/auth/token", {"username": "alice", "password": PASSWORD}, text="username", auth=False),
    Endpoint("POST", "/api/auth/token/refresh", {"refresh": "x"}, text="refresh", auth=False),
]


def set_path(body: dict, path: str, value: Any) -> dict:
    """A deep copy of `body` with `value` at the dotted `path` (list indexes are numbers)."""
    body = json.loads(json.dumps(body))
    *parents, last = path.split(".")
    node: Any = body
    for name in parents:
        node = node[int(name)] if isinstance(node, list) else node.setdefault(name, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return body


def deep_text(body: dict, path: str) -> str:
    """`body` as JSON text with arrays nested DEEP levels at `path` (json.dumps would recurse)."""
    marker = "__DEEP__"
    return json.dumps(set_path(body, path, marker)).replace(f'"{marker}"', "[" * DEEP + "]" * DEEP)


@dataclass
class Hostile:
    name: str
    applies: Callable[[Endpoint], str | None]  # the path the input goes to, None if n/a
    value: Any = None
    text: Callable[[dict, str], str] | None = None  # raw JSON text (from the endpoint's body) instead of a value
    suffix: str = ""  # where below the path the 400 points

    def __str__(self) -> str:
        return self.name


HOSTILE = [
    Hostile("nul_in_text", lambda e: e.text, "Acme\u0000HR"),
    Hostile("nul_only", lambda e: e.text, "\u0000"),
    Hostile("nul_in_json_value", lambda e: e.json_field and f"{e.json_field}.note", "a\u0000b"),
    Hostile(
        "nul_in_nested_list", lambda e: e.json_field and f"{e.json_field}.list", ["ok", {"x": "\u0000"}], suffix=".1.x"
    ),
    Hostile("nul_in_key", lambda e: e.json_field and f"{e.json_field}.bad\u0000key", "v"),
    Hostile("nul_in_top_level_key", lambda e: "evil\u0000", 1),
    Hostile("lone_high_surrogate", lambda e: e.text, "a\ud800b"),
    Hostile("lone_low_surrogate_in_json", lambda e: e.json_field and f"{e.json_field}.note", "\udfff"),
    Hostile("surrogate_in_key", lambda e: e.json_field and f"{e.json_field}.k\ud800", "v"),
    Hostile("int_2_64", lambda e: e.int_field or e.text, 2**64),
    Hostile("int_10_30", lambda e: e.int_field or e.text, 10**30),
    Hostile("int_negative_2_64", lambda e: e.json_field and f"{e.json_field}.n", -(2**64)),
    Hostile("number_1e999", lambda e: e.json_field and f"{e.json_field}.n", None, text=None),
    Hostile("deep_nesting", lambda e: e.text, text=deep_text),
    Hostile("deep_nesting_in_json", lambda e: e.json_field and f"{e.json_field}.tree", text=deep_text),
]


@pytest.fixture
def ids(org, admin_user) -> dict[str, str]:
    job, _ = job_enqueue(organization=org, job_type="noop", created_by="alice")
    client = client_for(admin_user)
    schedule = client.post(
        "/api/system/job-schedules",
        {"name": "n1", "job_type": "cache_flush", "payload": {"action": "full"}, "cron_expression": "@daily"},
        format="json",
    )
    assert schedule.status_code == 201, schedule.content
    notification = client.post("/api/notifications", {"title": "Hello"}, format="json")
    assert notification.status_code == 201, notification.content
    assert client.get("/api/system/notification-settings").status_code == 200  # the row exists
    return {
        "job": job.pk,
        "schedule": schedule.json()["id"],
        "notification": notification.json()["notifications"][0]["id"],
    }


def send(client: APIClient, endpoint: Endpoint, ids: dict[str, str], text: str):
    return client.generic(endpoint.method, endpoint.url.format(**ids), data=text, content_type="application/json")


def body_text(endpoint: Endpoint, hostile: Hostile, path: str) -> str:
    if hostile.text is not None:
        return hostile.text(endpoint.body, path)
    if hostile.name == "number_1e999":
        return json.dumps(set_path(endpoint.body, path, "__N__")).replace('"__N__"', "1e999")
    return json.dumps(set_path(endpoint.body, path, hostile.value))  # ensure_ascii: "\ud800" stays an escape


CASES = [
    pytest.param(endpoint, hostile, id=f"{endpoint.method}-{endpoint.url}-{hostile.name}")
    for endpoint in WRITES
    for hostile in HOSTILE
    if hostile.applies(endpoint)
]


@pytest.mark.parametrize(("endpoint", "hostile"), CASES)
def test_hostile_body__400_naming_the_field_and_nothing_saved(endpoint, hostile, admin_user, ids):
    client = client_for(admin_user) if endpoint.auth else APIClient()
    path = hostile.applies(endpoint)
    before = database_state()

    response = send(client, endpoint, ids, body_text(endpoint, hostile, path))

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["detail"]
    named = list(body["errors"])
    if hostile.name.startswith("deep_nesting"):
        # The path down to where the cap is hit, starting at the field.
        assert len(named) == 1 and named[0].startswith(f"{path}.0.0."), named
    else:
        assert named == [json_guard.printable(path + hostile.suffix)], body
    assert named[0] in body["detail"]
    assert database_state() == before


@pytest.mark.parametrize("endpoint", WRITES, ids=str)
def test_hostile_body__the_same_body_without_the_hostile_part_is_not_rejected_by_the_parser(endpoint, admin_user, ids):
    # Guards the table above: each 400 comes from the hostile part, not from a bad base body.
    client = client_for(admin_user) if endpoint.auth else APIClient()
    body = endpoint.body
    if endpoint.json_field:
        body = set_path(body, f"{endpoint.json_field}.tree", [[["deep", "enough"]]] * 2)
    response = send(client, endpoint, ids, json.dumps(body))

    errors = response.json().get("errors", {}) if response.status_code == 400 else {}
    assert not [name for name in errors if name.startswith(f"{endpoint.json_field}.tree")], response.content
    assert response.status_code < 500


def test_hostile_body__every_bad_field_is_named_at_once(admin_client, ids):
    before = database_state()
    body = {"job_type": "email_send", "payload": {"to": "a\u0000", "subject": "\ud800", "n": 10**30, "ok": "fine"}}

    response = admin_client.generic("POST", "/api/system/background-jobs", json.dumps(body), "application/json")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"payload.to", "payload.subject", "payload.n"}
    assert database_state() == before


def test_hostile_body__a_top_level_string_with_nul_is_a_400(admin_client, ids):
    response = admin_client.generic("POST", "/api/notifications", json.dumps("\u0000"), "application/json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"non_field_errors": [response.json()["detail"]]}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"title": "\xff\xfe"}',  # not UTF-8
        b'{"title": "\xed\xa0\x80"}',  # a surrogate encoded as UTF-8 bytes (CESU-8)
        b'{"title": NaN}',
        b'{"title": 1' + b"1" * 5000 + b"}",  # more digits than int() takes
        b'{"title": "unterminated',
    ],
    ids=["latin1", "cesu8_surrogate", "nan", "5000_digits", "unterminated"],
)
def test_hostile_body__malformed_bytes_are_a_400(raw, admin_client, ids):
    before = database_state()

    response = admin_client.generic("POST", "/api/notifications", raw, "application/json")

    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith("JSON parse error")
    assert database_state() == before


def test_hostile_body__a_client_chosen_charset_does_not_decode_the_body(admin_client, ids):
    raw = b'{"title": "\\\\ud800"}'  # with charset=unicode_escape this would turn into a lone surrogate
    response = admin_client.generic("POST", "/api/notifications", raw, "application/json; charset=unicode_escape")

    assert response.status_code == 201, response.content
    assert response.json()["notifications"][0]["title"] == "\\ud800"


def test_hostile_body__valid_unicode_and_64_bit_limits_are_accepted(admin_client, ids):
    custom = {"emoji": "\U0001f600 caf\u00e9", "max": 2**63 - 1, "min": -(2**63), "list": [[[[1]]]]}
    response = admin_client.generic(
        "PATCH", "/api/system/notification-settings", json.dumps({"custom_settings": custom}), "application/json"
    )

    assert response.status_code == 200, response.content
    assert admin_client.get("/api/system/notification-settings").json()["custom_settings"] == custom


# --- URLs: path segments and query parameters -------------------------------------------------

BAD_SEGMENTS = {"nul": "%00", "nul_inside": "job%00x", "not_utf8": "%FF", "encoded_surrogate": "%ED%A0%80"}
PATH_URLS = [
    ("GET", "/api/system/background-jobs/{}"),
    ("POST", "/api/system/background-jobs/{}/cancel"),
    ("POST", "/api/system/background-jobs/{}/retry"),
    ("GET", "/api/system/job-schedules/{}"),
    ("PUT", "/api/system/job-schedules/{}"),
    ("PATCH", "/api/system/job-schedules/{}"),
    ("DELETE", "/api/system/job-schedules/{}"),
    ("GET", "/api/notifications/{}"),
    ("PATCH", "/api/notifications/{}/read"),
    ("DELETE", "/api/notifications/{}"),
    ("GET", "/admin/jobs/backgroundjob/{}/change/"),
    ("GET", "/no-such-page/{}"),
]


@pytest.mark.parametrize("segment", BAD_SEGMENTS.values(), ids=BAD_SEGMENTS.keys())
@pytest.mark.parametrize(("method", "url"), PATH_URLS, ids=[f"{m}-{u}" for m, u in PATH_URLS])
def test_hostile_path_segment__400_naming_the_path(method, url, segment, admin_client, ids):
    before = database_state()

    response = admin_client.generic(method, url.format(segment), "{}", "application/json")

    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == ["path"]
    assert response.json()["detail"]
    assert database_state() == before


QUERIES = [
    ("GET", "/api/system/background-jobs?job_type=%00", "job_type"),
    ("GET", "/api/system/background-jobs?status=queued&job_type=a%00b", "job_type"),
    ("GET", "/api/system/background-jobs?priority=%ED%A0%80", "priority"),
    ("GET", "/api/system/job-schedules?job_type=%FF", "job_type"),
    ("GET", "/api/notifications?type=%00", "type"),
    ("GET", "/api/notifications?%00=1", "query"),
    ("GET", "/api/system/notification-settings?x=%00", "x"),
    ("POST", "/api/system/notification-settings/test-email?recipient=a%00@example.com", "recipient"),
    ("PATCH", "/api/notifications/read-all?x=%00", "x"),
    ("GET", "/admin/jobs/backgroundjob/?q=%00", "q"),
    ("GET", "/admin/jobs/backgroundjob/?status__exact=%00", "status__exact"),
]


@pytest.mark.parametrize(("method", "url", "param"), QUERIES, ids=[u for _, u, _ in QUERIES])
def test_hostile_query__400_naming_the_parameter(method, url, param, admin_client, ids):
    before = database_state()

    response = admin_client.generic(method, url)

    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == [param]
    assert param in response.json()["detail"]
    assert database_state() == before


@pytest.mark.parametrize(
    "query",
    [
        "skip=99999999999999999999",
        "skip=18446744073709551616",
        "skip=2147483648",
        "limit=1000000000000000000000000000000",
    ],
)
@pytest.mark.parametrize("url", ["/api/system/background-jobs", "/api/system/job-schedules", "/api/notifications"])
def test_hostile_query__integers_out_of_range_are_a_400(url, query, admin_client, ids):
    response = admin_client.get(f"{url}?{query}")

    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == [query.split("=")[0]]


def test_hostile_query__the_largest_skip_is_an_empty_page(admin_client, ids):
    response = admin_client.get("/api/system/background-jobs?skip=2147483647")

    assert response.status_code == 200, response.content
    assert response.json()["items"] == []


# --- the admin --------------------------------------------------------------------------------


@pytest.fixture
def browser(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", PASSWORD))
    return client


@pytest.mark.parametrize(
    ("custom_settings", "message"),
    [
        ('{"a": "\\u0000"}', "a: String must not contain NUL"),
        ('{"a\\u0000": 1}', "a\\u0000: Key must not contain NUL"),
        ('{"a": "\\ud800"}', "a: String must not contain lone UTF-16 surrogates"),
        ('{"n": 100000000000000000000000000000}', "n: Integer out of range"),
        ("[" * DEEP + "]" * DEEP, "Nested deeper than"),
        ('{"n": 1' + "1" * 5000 + "}", "Enter a valid JSON."),
    ],
    ids=["nul_value", "nul_key", "surrogate", "int_10_30", "deep", "5000_digits"],
)
def test_admin_json_field__hostile_json_is_a_form_error(custom_settings, message, browser, org, ids):
    ns = NotificationSettings.objects.get(organization=org)
    url = reverse("admin:notifications_notificationsettings_change", args=[quote(ns.pk)])
    before = database_state()

    response = browser.post(url, form_data(ns, custom_settings=custom_settings))

    assert response.status_code == 200  # the form again, with the error
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["custom_settings"], errors
    assert message in errors["custom_settings"][0]
    assert database_state() == before


def test_admin_json_field__schedule_payload_with_nul_is_a_form_error(browser, org, ids):
    before = database_state()
    response = browser.post(
        reverse("admin:jobs_jobschedule_add"),
        {
            "name": "evil",
            "organization": org.pk,
            "job_type": "cache_flush",
            "payload": '{"action": "partial", "prefix": "x", "extra\\u0000": 1}',
            "priority": "",
            "cron_expression": "@daily",
            "timezone": "UTC",
            "enabled": "on",
        },
    )

    assert response.status_code == 200
    assert "payload" in response.context["adminform"].form.errors
    assert not JobSchedule.objects.filter(name="evil").exists()
    assert database_state() == before


def test_admin_search__nul_is_a_400(browser, ids):
    response = browser.get("/admin/notifications/notificationsettings/?q=%00")

    assert response.status_code == 400
    assert response.json()["errors"] == {"q": ["Query parameter must not contain NUL (%00) characters."]}


# --- json_guard, the rules themselves -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("[" * 32 + "]" * 32, True),
        ("[" * 33 + "]" * 33, False),
        ('{"a": "' + "[" * 100 + '"}', True),  # brackets inside a string do not nest
        ('{"a": "\\"[[[[' + "[" * 100 + '"}', True),  # nor after an escaped quote
        ("[" + "[], " * 100 + "[]]", True),  # many siblings, little depth
    ],
    ids=["at_cap", "past_cap", "brackets_in_string", "escaped_quote", "siblings"],
)
def test_json_guard__depth_is_counted_on_the_raw_text(text, ok, settings):
    settings.API_JSON_MAX_DEPTH = 32
    if ok:
        json_guard.check_depth(text)
    else:
        with pytest.raises(json_guard.JSONLimitError):
            json_guard.check_depth(text)


def test_json_guard__depth_error_names_the_path(settings):
    settings.API_JSON_MAX_DEPTH = 3
    with pytest.raises(json_guard.JSONLimitError) as exc:
        json_guard.check_depth('{"a": [1, {"b\\u0000": [[2]]}]}')
    assert exc.value.path == "a.1.b\\u0000"


def test_json_guard__names_every_offender_with_printable_paths():
    value = json.loads('{"a": ["\\u0000", 1e999, true, 9223372036854775807, -9223372036854775809], "\\ud800": 0}')

    assert set(json_guard.problems(value)) == {
        ("a.0", "String must not contain NUL (\\u0000) characters."),
        ("a.1", "Number out of range."),
        ("a.4", "Integer out of range: must be between -9223372036854775808 and 9223372036854775807."),
        ("\\ud800", "Key must not contain lone UTF-16 surrogates (invalid Unicode)."),
    }


# --- under ASGI (the path as the server received it: scope["raw_path"]) ----------------------


@pytest.mark.parametrize(
    ("raw_path", "query", "field"),
    [
        (b"/api/notifications/%FF", b"", "path"),
        (b"/api/notifications/%ED%A0%80", b"", "path"),
        (b"/api/notifications/a%00", b"", "path"),
        (b"/api/notifications", b"type=%00", "type"),
    ],
)
def test_hostile_url__under_asgi_too(raw_path, query, field):
    async def view(request):
        raise AssertionError("the view must not run")

    scope = {
        "type": "http",
        "method": "GET",
        "path": raw_path.decode("latin-1"),
        "raw_path": raw_path,
        "query_string": query,
        "headers": [(b"host", b"testserver")],
    }
    middleware = HostileInputMiddleware(view)
    response = asyncio.run(middleware(ASGIRequest(scope, io.BytesIO())))

    assert response.status_code == 400
    assert list(json.loads(response.content)["errors"]) == [field]


# --- form posts (the admin) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "data", "field"),
    [
        ("/admin/jobs/backgroundjob/", {"action": "cancel_jobs", "_selected_action": "job_\x00", "index": "0"}, None),
        ("/admin/login/", {"username": "root\x00", "password": PASSWORD}, "username"),
        ("/admin/jobs/jobschedule/add/", {"name": "x", "organization": "org_\x00", "cron_expression": "@daily"}, None),
    ],
    ids=["action_selected_ids", "login", "schedule_organization"],
)
def test_hostile_form__nul_in_a_form_post_is_a_400(url, data, field, browser, ids):
    before = database_state()

    response = browser.post(url, data)

    assert response.status_code == 400, response.content
    expected = field or next(name for name, value in data.items() if "\x00" in value)
    assert list(response.json()["errors"]) == [expected]
    assert database_state() == before


def test_hostile_body__larger_than_the_upload_limit_is_refused(admin_client, ids, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    before = database_state()

    body = json.dumps({"title": "Hello", "message": "x" * 1000})
    response = admin_client.generic("POST", "/api/notifications", body, "application/json")

    assert response.status_code == 400, response.content  # Django's RequestDataTooBig
    assert response.json() == {"detail": "Bad request."}
    assert database_state() == before


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12,
)


@hypothesis.settings(max_examples=300, deadline=None, database=None, derandomize=True)
@hypothesis.given(value=JSON_VALUES)
@hypothesis.example(value=[float("inf"), float("-inf")])
@hypothesis.example(value={"a\x00": 2**64, "b": ["\ud800", -(2**63) - 1, 1e308 * 10]})
def test_json_guard__the_fast_check_never_misses_what_the_walk_finds(value):
    # The parser skips the walk when suspect(text) is False: that must never hide a problem.
    text = json.dumps(value)
    decoded = json.loads(text)
    if list(json_guard.problems(decoded)):
        assert json_guard.suspect(text), text
