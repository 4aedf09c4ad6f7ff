"""Refresh-token rotation and blacklist, logout, and what happens to tokens when their user is
deleted, deactivated, changes password or changes role — checked through the API."""

import threading

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from hcm.models import Role
from hcm.tokens import refresh_token_rotate
from tests.factories import PASSWORD

SETTINGS_URL = "/api/system/notification-settings"
TOKEN_URL = "/api/auth/token/"
REFRESH_URL = "/api/auth/token/refresh/"
LOGOUT_URL = "/api/auth/logout"


def login(username: str, password: str = PASSWORD) -> dict[str, str]:
    response = APIClient().post(TOKEN_URL, {"username": username, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def refresh(token: str, path: str = REFRESH_URL):
    return APIClient().post(path, {"refresh": token}, format="json")


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def logout(access: str, body: dict, path: str = LOGOUT_URL):
    return bearer(access).post(path, body, format="json")


# --- rotation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/auth/token/refresh/", "/api/auth/token/refresh"])
def test_refresh__returns_a_new_access_and_a_new_refresh_token(path, admin_user):
    tokens = login("alice")

    response = refresh(tokens["refresh"], path)

    assert response.status_code == 200, response.content
    rotated = response.json()
    assert set(rotated) == {"access", "refresh"}
    assert rotated["refresh"] != tokens["refresh"]
    assert bearer(rotated["access"]).get(SETTINGS_URL).status_code == 200
    assert refresh(rotated["refresh"]).status_code == 200


def test_refresh__a_used_refresh_token_is_refused(admin_user):
    tokens = login("alice")
    assert refresh(tokens["refresh"]).status_code == 200

    again = refresh(tokens["refresh"])

    assert again.status_code == 401
    assert "blacklisted" in again.json()["detail"]


def test_refresh__each_token_of_a_chain_works_once(admin_user):
    current = login("alice")["refresh"]
    used = []
    for _ in range(3):
        response = refresh(current)
        assert response.status_code == 200
        used.append(current)
        current = response.json()["refresh"]

    assert [refresh(token).status_code for token in used] == [401, 401, 401]
    assert refresh(current).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_refresh__the_same_token_used_twice_at_once_works_once(admin_user):
    raw = login("alice")["refresh"]
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def use() -> None:
        start.wait()
        try:
            refresh_token_rotate(raw=raw)
            outcomes.append("rotated")
        except TokenError:
            outcomes.append("refused")
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=use) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["refused", "rotated"]


# --- logout -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/auth/logout", "/api/auth/logout/"])
def test_logout__revokes_the_refresh_token(path, admin_user):
    tokens = login("alice")

    response = logout(tokens["access"], {"refresh": tokens["refresh"]}, path)

    assert response.status_code == 204, response.content
    refused = refresh(tokens["refresh"])
    assert refused.status_code == 401
    assert refused.json()["detail"]


def test_logout__a_second_time_is_a_no_op(admin_user):
    tokens = login("alice")
    assert logout(tokens["access"], {"refresh": tokens["refresh"]}).status_code == 204

    assert logout(tokens["access"], {"refresh": tokens["refresh"]}).status_code == 204


def test_logout__leaves_the_users_other_sessions_alone(admin_user):
    laptop, phone = login("alice"), login("alice")

    assert logout(laptop["access"], {"refresh": laptop["refresh"]}).status_code == 204

    assert refresh(phone["refresh"]).status_code == 200


def test_logout__needs_a_signed_in_caller(admin_user):
    tokens = login("alice")

    response = APIClient().post(LOGOUT_URL, {"refresh": tokens["refresh"]}, format="json")

    assert response.status_code == 401
    assert response.json()["detail"]
    assert refresh(tokens["refresh"]).status_code == 200


def test_logout__another_users_refresh_token_is_refused_and_keeps_working(admin_user, member_user):
    alice, bob = login("alice"), login("bob")

    response = logout(alice["access"], {"refresh": bob["refresh"]})

    assert response.status_code == 403
    assert "another user" in response.json()["detail"]
    assert refresh(bob["refresh"]).status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "required"),
        ({"refresh": "not-a-token"}, "invalid"),
        ({"refresh": "ACCESS"}, "wrong type"),
    ],
    ids=["missing", "garbage", "access-token"],
)
def test_logout__a_bad_refresh_field_is_400_naming_it(body, message, admin_user):
    tokens = login("alice")
    if body.get("refresh") == "ACCESS":
        body = {"refresh": tokens["access"]}

    response = logout(tokens["access"], body)

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"refresh"}
    assert message in response.json()["detail"]


# --- the user behind the token ------------------------------------------------------------------


def test_deleted_user__refresh_and_access_tokens_are_401(admin_user):
    tokens = login("alice")
    admin_user.delete()

    refused = refresh(tokens["refresh"])

    assert refused.status_code == 401
    assert refused.json()["detail"]
    assert bearer(tokens["access"]).get(SETTINGS_URL).status_code == 401


def test_password_change__revokes_access_and_refresh_tokens(admin_user):
    tokens = login("alice")
    admin_user.set_password("a-new-password-9")
    admin_user.save()

    access = bearer(tokens["access"]).get(SETTINGS_URL)
    refreshed = refresh(tokens["refresh"])

    assert access.status_code == 401
    assert "password" in access.json()["detail"]
    assert refreshed.status_code == 401
    assert "password" in refreshed.json()["detail"]
    assert bearer(login("alice", "a-new-password-9")["access"]).get(SETTINGS_URL).status_code == 200


def test_password_change__tokens_issued_afterwards_keep_working_through_rotation(admin_user):
    admin_user.set_password("a-new-password-9")
    admin_user.save()
    tokens = login("alice", "a-new-password-9")

    rotated = refresh(tokens["refresh"])

    assert rotated.status_code == 200
    assert bearer(rotated.json()["access"]).get(SETTINGS_URL).status_code == 200


def test_deactivation__access_and_refresh_tokens_stop_at_once(admin_user):
    tokens = login("alice")
    admin_user.is_active = False
    admin_user.save(update_fields=["is_active"])

    access = bearer(tokens["access"]).get(SETTINGS_URL)
    refreshed = refresh(tokens["refresh"])

    assert access.status_code == 401
    assert refreshed.status_code == 401
    assert refreshed.json()["detail"]


def test_deactivation__then_reactivation_lets_the_same_tokens_work_again(admin_user):
    tokens = login("alice")
    admin_user.is_active = False
    admin_user.save(update_fields=["is_active"])
    assert bearer(tokens["access"]).get(SETTINGS_URL).status_code == 401

    admin_user.is_active = True
    admin_user.save(update_fields=["is_active"])

    assert bearer(tokens["access"]).get(SETTINGS_URL).status_code == 200


def test_role_change__applies_to_the_next_request_with_the_same_token(member_user):
    client = bearer(login("bob")["access"])
    assert client.get(SETTINGS_URL).status_code == 403

    member_user.role = Role.SYSTEM_ADMIN
    member_user.save(update_fields=["role"])
    assert client.get(SETTINGS_URL).status_code == 200

    member_user.role = Role.MEMBER
    member_user.save(update_fields=["role"])
    assert client.get(SETTINGS_URL).status_code == 403


def test_role_change__tokens_name_the_user_only(admin_user):
    tokens = login("alice")

    claims = set(AccessToken(tokens["access"]).payload)

    assert claims == {"token_type", "exp", "iat", "jti", "user_id", "hash_password"}


def test_organization_change__applies_to_the_next_request(admin_user, other_org):
    client = bearer(login("alice")["access"])
    assert client.get(SETTINGS_URL).json()["organization_id"] == admin_user.organization_id

    admin_user.organization = other_org
    admin_user.save(update_fields=["organization"])

    assert client.get(SETTINGS_URL).json()["organization_id"] == other_org.pk


def test_session_login__password_change_signs_the_browser_out(admin_user):
    browser = Client()
    assert browser.login(username="alice", password=PASSWORD)
    assert browser.get(SETTINGS_URL, HTTP_ACCEPT="application/json").status_code == 200

    admin_user.set_password("a-new-password-9")
    admin_user.save()

    assert browser.get(SETTINGS_URL, HTTP_ACCEPT="application/json").status_code == 401


# --- the schema ---------------------------------------------------------------------------------


def test_schema__documents_rotation_and_logout(db):
    import yaml

    schema = yaml.safe_load(Client().get("/api/schema/").content)

    refreshed = schema["components"]["schemas"]["TokenRefresh"]
    assert set(refreshed["required"]) == {"access", "refresh"}
    logout_op = schema["paths"]["/api/auth/logout"]["post"]
    assert {"204", "400", "401", "403"} <= set(logout_op["responses"])
    assert logout_op["security"] == [{"jwtAuth": []}]
    assert "429" in schema["paths"]["/api/auth/token"]["post"]["responses"]


# --- the admin ------------------------------------------------------------------------------------


def test_admin__issued_and_blacklisted_tokens_are_listed_without_the_token_itself(admin_user):
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    tokens = login("alice")
    assert logout(tokens["access"], {"refresh": tokens["refresh"]}).status_code == 204
    live = login("alice")["refresh"]
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    browser = Client()
    browser.force_login(admin_user)

    pages = [
        browser.get("/admin/token_blacklist/outstandingtoken/"),
        browser.get("/admin/token_blacklist/blacklistedtoken/"),
        *(
            browser.get(f"/admin/token_blacklist/outstandingtoken/{pk}/change/")
            for pk in OutstandingToken.objects.values_list("pk", flat=True)
        ),
    ]

    assert [page.status_code for page in pages] == [200] * len(pages)
    assert len(pages) == 4
    for page in pages:
        assert live not in page.content.decode()
        assert tokens["refresh"] not in page.content.decode()
