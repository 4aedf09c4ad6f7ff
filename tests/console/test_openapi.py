"""The OpenAPI schema (/api/schema/) and Swagger UI (/api/docs/): complete, valid, served
locally, and true to the API — schemathesis calls every operation and none answers 5xx."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import hypothesis
import pytest
import schemathesis
import yaml
from django.contrib.staticfiles import finders
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.db import close_old_connections
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from jobs.services import job_enqueue

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def schema_doc(db) -> dict:
    response = Client().get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def api_routes() -> list[tuple[str, type[APIView]]]:
    """Every DRF view routed under /api/, as the schema should name its path."""
    found = []

    def walk(patterns, prefix: str = "") -> None:
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                walk(p.url_patterns, route)
            elif isinstance(p, URLPattern) and getattr(p.callback, "cls", None):
                found.append((route, p.callback.cls))  # type: ignore[attr-defined]  # set by as_view()

    walk(get_resolver().url_patterns)
    result = []
    for route, view in found:
        path = "/" + re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route.lstrip("^")).removesuffix("$")
        path = path.removesuffix("/?").replace("<", "{").replace(">", "}")
        if path.startswith("/api/") and issubclass(view, APIView) and path not in ("/api/schema/", "/api/docs/"):
            result.append((path, view))
    return result


# --- the schema -------------------------------------------------------------------------------


def test_schema__generates_without_warnings_and_validates(tmp_path: Path):
    # The same as `manage.py spectacular --validate --fail-on-warn`: a view drf-spectacular
    # cannot read (an APIView without serializers) fails here until it is described.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))

    assert yaml.safe_load((tmp_path / "schema.yaml").read_text())["openapi"].startswith("3.")


def test_schema__documents_every_api_endpoint_and_method(schema_doc):
    routes = api_routes()
    assert routes, "no API routes found"

    for path, view in routes:
        assert path in schema_doc["paths"], f"{path} ({view.__name__}) is not in the schema"
        for method in HTTP_METHODS:
            if hasattr(view, method):
                assert method in schema_doc["paths"][path], f"{method.upper()} {path} is not in the schema"


def test_schema__every_operation_has_a_typed_success_response(schema_doc):
    for path, operations in schema_doc["paths"].items():
        for method, operation in operations.items():
            success = {code: r for code, r in operation["responses"].items() if code.startswith("2")}
            assert success, f"{method.upper()} {path} documents no success response"
            for code, response in success.items():
                if code == "204":
                    continue
                schema = response["content"]["application/json"]["schema"]
                assert schema.get("description") != "Unspecified response body", f"{method.upper()} {path}"


def test_schema__paths_are_the_canonical_slashless_ones(schema_doc):
    assert not [p for p in schema_doc["paths"] if p.endswith("/")]


def test_schema__errors_share_one_shape(schema_doc):
    error = schema_doc["components"]["schemas"]["Error"]

    assert error["required"] == ["detail"]
    assert set(error["properties"]) == {"detail", "errors"}


@pytest.mark.parametrize(
    ("method", "path", "codes"),
    [
        ("get", "/api/system/notification-settings", {"200", "401", "403"}),
        ("put", "/api/system/notification-settings", {"200", "400", "401", "403", "429"}),
        ("post", "/api/system/notification-settings/test-email", {"200", "400", "401", "403", "429", "502"}),
        ("post", "/api/auth/token", {"200", "400", "401", "429"}),
    ],
)
def test_schema__operations_document_the_errors_they_can_answer(schema_doc, method, path, codes):
    responses = schema_doc["paths"][path][method]["responses"]

    assert set(responses) == codes
    for code in codes - {"200"}:
        assert responses[code]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_schema__every_error_response_uses_the_error_shape(schema_doc):
    for path, operations in schema_doc["paths"].items():
        for method, operation in operations.items():
            for code, response in operation["responses"].items():
                if code[0] in "45":
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, f"{method.upper()} {path} {code}"


def test_schema__bearer_jwt_is_the_security_scheme(schema_doc):
    assert schema_doc["components"]["securitySchemes"] == {
        "jwtAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    }
    settings_get = schema_doc["paths"]["/api/system/notification-settings"]["get"]
    assert settings_get["security"] == [{"jwtAuth": []}]
    assert "security" not in schema_doc["paths"]["/api/auth/token"]["post"] or schema_doc["paths"]["/api/auth/token"][
        "post"
    ]["security"] in ([], [{}])


def test_schema__request_bodies_are_split_from_responses(schema_doc):
    body = schema_doc["paths"]["/api/system/notification-settings"]["put"]["requestBody"]
    component = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]

    assert component.endswith("Request")
    assert "id" not in schema_doc["components"]["schemas"][component]["properties"]


def test_schema__served_as_json_too_and_to_anyone(db):
    response = Client().get("/api/schema/?format=json", HTTP_AUTHORIZATION="Bearer not-a-token")

    assert response.status_code == 200
    assert response.json()["info"]["title"] == "HCM system settings API"


# --- Swagger UI -------------------------------------------------------------------------------


def test_docs__swagger_ui_is_public_and_loads_nothing_from_another_host(db):
    response = Client().get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    references = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert references, html
    assert not [r for r in references if re.match(r"(https?:)?//", r)]
    assert "/api/schema/" in html
    for ref in references:
        assert ref.startswith("/static/"), ref
        assert finders.find(ref.removeprefix("/static/")), f"{ref} is not a local static file"


# --- schemathesis -----------------------------------------------------------------------------

# Each area of the API is its own test, so each stays short; together they cover every path.
AREAS = {
    "auth": r"^/api/auth/",
    "notification_settings": r"^/api/system/notification-(settings|events)",
    "notifications": r"^/api/notifications",
    "background_jobs": r"^/api/system/background-jobs",
    "job_schedules": r"^/api/system/job-schedules",
}
# No 5xx, and every answer is one the schema documents, in the documented shape.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def test_schemathesis_areas__cover_every_path(schema_doc):
    assert not [p for p in schema_doc["paths"] if not any(re.match(r, p) for r in AREAS.values())]


@pytest.fixture
def admin_token(admin_user) -> str:
    return str(RefreshToken.for_user(admin_user).access_token)


@pytest.fixture
def real_ids(org, admin_client) -> dict[str, str]:
    """Objects that exist, made through the API, so path parameters can name them too."""
    job, _ = job_enqueue(organization=org, job_type="noop", created_by="alice")
    schedule = admin_client.post(
        "/api/system/job-schedules",
        {"name": "nightly", "job_type": "cleanup", "payload": {"type": "all"}, "cron_expression": "@daily"},
        format="json",
    )
    assert schedule.status_code == 201, schedule.content
    notification = admin_client.post("/api/notifications", {"title": "Hello"}, format="json")
    assert notification.status_code == 201, notification.content
    return {
        "job_id": job.pk,
        "schedule_id": schedule.json()["id"],
        "id": notification.json()["notifications"][0]["id"],
    }


@pytest.fixture
def api_schema(request, db, admin_user, settings):
    # schemathesis 4.32's pytest integration reads Node._nodeid, which pytest 9 no longer has.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid
    # Random calls in quick succession would spend the per-user rate limits and get 429s.
    settings.RATELIMIT_ENABLE = False
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]  # schemathesis' WSGI client calls http://localhost
    with connection_kept_open():
        return schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGIHandler())


@contextmanager
def connection_kept_open() -> Iterator[None]:
    """A WSGI request closes the database connection when it ends; the test's transaction
    lives on that connection, so (as Django's test Client does) keep it open meanwhile."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("api_schema")


def call_api(case, admin_token: str, real_ids: dict[str, str]) -> None:
    """The generated request as a system_admin; then, if it names objects, again with real ones."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    with connection_kept_open():
        case.call_and_validate(headers=headers, checks=CHECKS)
        if case.path_parameters:
            case.path_parameters = {name: real_ids.get(name, value) for name, value in case.path_parameters.items()}
            case.call_and_validate(headers=headers, checks=CHECKS)


def api_test(area: str):
    @schema.include(path_regex=AREAS[area]).parametrize()
    @hypothesis.settings(
        max_examples=5,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    def test(case, admin_token, real_ids):
        call_api(case, admin_token, real_ids)

    return test


test_api__auth__no_server_errors = api_test("auth")
test_api__notification_settings__no_server_errors = api_test("notification_settings")
test_api__notifications__no_server_errors = api_test("notifications")
test_api__background_jobs__no_server_errors = api_test("background_jobs")
test_api__job_schedules__no_server_errors = api_test("job_schedules")
