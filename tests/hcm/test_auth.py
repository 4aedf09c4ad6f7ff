"""JWT tokens, and who may call /api/system/ (401 without a valid token, 403 by role)."""

from datetime import timedelta

import pytest
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from hcm.models import User
from tests.conftest import client_for
from tests.factories import PASSWORD

SETTINGS_URL = "/api/system/notification-settings"


def obtain(client: APIClient, path: str, username: str, password: str):
    return client.post(path, {"username": username, "password": password}, format="json")


@pytest.mark.parametrize("path", ["/api/auth/token/", "/api/auth/token"])
def test_token__obtain_then_call_api_with_bearer(path, admin_user):
    client = APIClient()

    response = obtain(client, path, "alice", PASSWORD)

    assert response.status_code == 200, response.content
    tokens = response.json()
    assert set(tokens) == {"access", "refresh"}
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert client.get(SETTINGS_URL).status_code == 200


@pytest.mark.parametrize("path", ["/api/auth/token/refresh/", "/api/auth/token/refresh"])
def test_token__refresh_gives_a_working_access_token(path, admin_user):
    client = APIClient()
    refresh = obtain(client, "/api/auth/token/", "alice", PASSWORD).json()["refresh"]

    response = client.post(path, {"refresh": refresh}, format="json")

    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    assert client.get(SETTINGS_URL).status_code == 200


def test_token__wrong_password_is_401_with_detail(admin_user):
    response = obtain(APIClient(), "/api/auth/token/", "alice", "wrong-password")

    assert response.status_code == 401
    assert response.json()["detail"]
    assert "access" not in response.json()


def test_token__missing_fields_is_400_naming_them(db):
    response = APIClient().post("/api/auth/token/", {}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["detail"]
    assert set(body["errors"]) == {"username", "password"}


def test_token__refresh_with_an_invalid_token_is_401(db):
    response = APIClient().post("/api/auth/token/refresh/", {"refresh": "not-a-token"}, format="json")

    assert response.status_code == 401
    assert response.json()["detail"]


def test_token__refresh_token_is_not_accepted_as_access_token(admin_user):
    client = APIClient()
    refresh = obtain(client, "/api/auth/token/", "alice", PASSWORD).json()["refresh"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {refresh}")

    response = client.get(SETTINGS_URL)

    assert response.status_code == 401
    assert response.json()["detail"]


def _expired_access_token(user: User) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(minutes=1))
    return str(token)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer not-a-jwt",
        "Bearer ",
        "Token abc",
        "expired",
    ],
    ids=["no-header", "garbage-token", "empty-token", "wrong-scheme", "expired-token"],
)
def test_api__without_a_valid_token_is_401_with_detail(authorization, admin_user):
    client = APIClient()
    if authorization == "expired":
        authorization = f"Bearer {_expired_access_token(admin_user)}"
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)

    response = client.get(SETTINGS_URL)

    assert response.status_code == 401
    assert response.json()["detail"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_api__token_of_a_deactivated_user_is_401(admin_user, admin_client):
    admin_user.is_active = False
    admin_user.save(update_fields=["is_active"])

    response = admin_client.get(SETTINGS_URL)

    assert response.status_code == 401
    assert response.json()["detail"]


@pytest.mark.parametrize("method", ["get", "put", "patch"])
def test_system_api__member_is_403_with_detail(method, member_client):
    response = getattr(member_client, method)(SETTINGS_URL, {}, format="json")

    assert response.status_code == 403
    assert "system_admin" in response.json()["detail"]


def test_system_api__member_cannot_send_a_test_email(member_client, mailoutbox):
    response = member_client.post(f"{SETTINGS_URL}/test-email?recipient=x@example.com")

    assert response.status_code == 403
    assert response.json()["detail"]
    assert mailoutbox == []


def test_system_api__user_without_organization_is_403(db):
    loner = User.objects.create_user("loner", password=PASSWORD)

    response = client_for(loner).get(SETTINGS_URL)

    assert response.status_code == 403
    assert "organization" in response.json()["detail"]


def test_system_api__superuser_without_organization_is_403(db):
    root = User.objects.create_superuser("root", password=PASSWORD)

    response = client_for(root).get(SETTINGS_URL)

    assert response.status_code == 403
    assert response.json()["detail"]


def test_system_api__session_login_works_for_the_browsable_api(admin_user):
    client = Client()
    assert client.login(username="alice", password=PASSWORD)

    response = client.get(SETTINGS_URL, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert b"Notification Settings" in response.content
