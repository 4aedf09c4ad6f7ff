"""GET /health: 200 when the database answers, 503 with the reason when it cannot be reached."""

import pytest
from rest_framework.test import APIClient

from tests.hcm.offline import DATABASE_PASSWORD, get_with_database_down


@pytest.mark.parametrize("path", ["/health", "/health/"])
def test_health__ok_without_auth(path, db):
    response = APIClient().get(path)

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["database"]) == ("ok", "ok")
    assert body["timestamp"]


def test_health__post_is_405(db):
    assert APIClient().post("/health").status_code == 405


def test_health__database_unreachable_is_503_with_the_reason(tmp_path):
    response = get_with_database_down("/health", log_dir=tmp_path)

    assert response["status"] == 503
    assert response["content_type"] == "application/json"
    body = __import__("json").loads(response["body"])
    assert body["status"] == "unavailable"
    assert body["database"].startswith("error: OperationalError")
    assert "Connection refused" in body["database"] or "connection" in body["database"].lower()
    assert DATABASE_PASSWORD not in response["body"]
