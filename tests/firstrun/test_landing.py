"""Where a new user lands: `/`, `/api/`, and the JSON 404 under /api/ even with DEBUG on."""

import pytest
from django.test import override_settings
from django.urls import Resolver404, resolve

from hcm.home import API_SECTIONS


def test_home__links_admin_api_docs_and_health(client):
    response = client.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    for href in ('href="/admin/"', 'href="/api/docs/"', 'href="/api/"', 'href="/health"'):
        assert href in html


@pytest.mark.parametrize("path", ["/api/", "/api"])
def test_api_index__lists_sections_and_docs(client, path):
    response = client.get(path)

    assert response.status_code == 200
    body = response.json()
    assert body["docs"] == "http://testserver/api/docs/"
    assert body["schema"] == "http://testserver/api/schema/"
    assert {s["name"] for s in body["sections"]} >= {"notification_settings", "background_jobs", "notifications"}
    assert all(s["url"].startswith("http://testserver/api/") for s in body["sections"])


@pytest.mark.parametrize("name,path", [(name, path) for name, path, _ in API_SECTIONS])
def test_api_index__every_section_link_resolves(name, path):
    try:
        resolve(path)
    except Resolver404:
        pytest.fail(f"/api/ lists {name} at {path}, which no URL pattern serves")


def test_api_index__docs_link_is_served(client):
    assert client.get("/api/docs/").status_code == 200


@pytest.mark.parametrize("debug", [False, True])
def test_unknown_api_path__json_404_with_or_without_debug(client, debug):
    with override_settings(DEBUG=debug):
        response = client.get("/api/no-such-thing/here")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_unknown_path_outside_api__still_404(client):
    with override_settings(DEBUG=False):
        assert client.get("/no-such-page").status_code == 404
