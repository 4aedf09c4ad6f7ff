"""Every error is JSON with `detail`: 404 for unknown URLs, 405, and 500 without a traceback."""

import json

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from tests.hcm.offline import DATABASE_PASSWORD, get_with_database_down


@pytest.mark.parametrize(
    "path", ["/api/nope", "/api/system/notification-settings/nope", "/nope/", "/api/system/background-jobsx"]
)
def test_unknown_url__is_json_404(path, admin_client):
    response = admin_client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_unknown_url__is_json_404_without_auth_too(db):
    response = APIClient().get("/api/nope")

    assert response.status_code == 404
    assert response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("delete", "/api/system/notification-settings"),
        ("get", "/api/system/notification-settings/test-email"),
        ("get", "/api/auth/token/"),
        ("put", "/api/auth/token/refresh/"),
    ],
)
def test_wrong_method__is_405_with_detail(method, path, admin_client):
    response = getattr(admin_client, method)(path)

    assert response.status_code == 405
    assert method.upper() in response.json()["detail"]


def test_server_error__is_json_500_without_a_traceback(admin_user, tmp_path):
    # A real failure: the database goes away under an authenticated API call.
    token = str(AccessToken.for_user(admin_user))

    response = get_with_database_down(
        "/api/system/notification-settings", log_dir=tmp_path, authorization=f"Bearer {token}"
    )

    assert response["status"] == 500
    assert response["content_type"] == "application/json"
    assert json.loads(response["body"]) == {"detail": "Internal server error."}
    assert "Traceback" not in response["body"]
    assert DATABASE_PASSWORD not in response["body"]
    # The traceback goes to the log instead, for the operator.
    assert "Traceback" in (tmp_path / "hcm.log").read_text()
