"""GET /api/notifications/stream against a real daphne process and the test database
(SQLite or PostgreSQL, whichever the suite runs on): a client reads the events off the
wire, disconnects, misses notifications, and reconnects with Last-Event-ID."""

from collections.abc import Iterator

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from hcm.models import Role
from notifications.models import Notification
from notifications.services.notification_center import notification_mark_read
from notifications.services.notify import notify
from tests.asgi_server import SSEClient, asgi_server
from tests.conftest import client_for
from tests.factories import make_org, make_user


@pytest.fixture(scope="module")
def server(tmp_path_factory, django_db_setup, django_db_blocker) -> Iterator:
    with asgi_server(
        tmp_path_factory.mktemp("stream"),
        NOTIFICATIONS_STREAM_HEARTBEAT_SECONDS="0.5",
        NOTIFICATIONS_STREAM_POLL_SECONDS="0.1",
    ) as s:
        yield s


@pytest.fixture
def people(transactional_db):
    org = make_org("acme")
    admin = make_user(org, role=Role.SYSTEM_ADMIN, username="alice")
    member = make_user(org, role=Role.MEMBER, username="bob")
    return org, admin, member


def bearer(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {RefreshToken.for_user(user).access_token}"}


def hire(org, name: str, recipients) -> None:
    notify(org, "employee_hired", data={"employee_name": name}, recipients=recipients)


def test_stream__delivers_new_notifications_and_resumes_after_a_reconnect(server, people):
    org, admin, member = people
    hire(org, "Before Connecting", [admin])  # already there: counted, not sent again

    stream = SSEClient(server.port, "/api/notifications/stream", bearer(admin))
    assert stream.status == 200, stream.body()
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    first = stream.next_of("unread")
    assert first.json() == {"count": 1}
    assert stream.retry == 2000

    hire(org, "Ada Lovelace", [admin, member])
    event = stream.next_of("notification")
    assert event.json()["title"] == "New hire: Ada Lovelace"
    assert stream.next_of("unread").json() == {"count": 2}
    resume_from = stream.last_event_id
    stream.close()

    # While nobody listens: two more for alice, one for bob only.
    hire(org, "Grace Hopper", [admin])
    hire(org, "Only Bob", [member])
    hire(org, "Alan Turing", [admin])

    again = SSEClient(server.port, "/api/notifications/stream", {**bearer(admin), "Last-Event-ID": resume_from})
    assert again.status == 200
    titles = [again.next_of("notification").json()["title"] for _ in range(2)]
    assert titles == ["New hire: Grace Hopper", "New hire: Alan Turing"]  # in order, nothing lost, no one else's
    assert again.next_of("unread").json() == {"count": 4}

    # Reading elsewhere (another tab, the API) updates the count on the open stream.
    notification_mark_read(notification=Notification.objects.filter(user=admin).order_by("seq").first())
    assert again.next_of("unread").json() == {"count": 3}
    again.close()


def test_stream__heartbeat_comments_keep_an_idle_stream_open(server, people):
    _, admin, _ = people
    stream = SSEClient(server.port, "/api/notifications/stream", bearer(admin))
    stream.next_of("unread")
    comment = stream.next_event(skip_comments=False)
    assert comment.event == "comment" and comment.comments == ["heartbeat"]
    stream.close()


def test_stream__ticket_opens_one_stream_once(server, people):
    org, admin, _ = people
    response = client_for(admin).post("/api/notifications/stream-ticket")
    assert response.status_code == 201
    body = response.json()
    assert body["url"] == f"/api/notifications/stream?ticket={body['ticket']}"

    stream = SSEClient(server.port, body["url"])
    assert stream.status == 200
    stream.next_of("unread")
    hire(org, "Via Ticket", [admin])
    assert stream.next_of("notification").json()["title"] == "New hire: Via Ticket"
    stream.close()

    reused = SSEClient(server.port, body["url"])
    assert reused.status == 401
    assert "ticket" in reused.body()
    forged = SSEClient(server.port, "/api/notifications/stream?ticket=" + "x" * 43)
    assert forged.status == 401


def test_stream__refuses_anonymous_callers_and_bad_cursors(server, people):
    _, admin, _ = people
    anonymous = SSEClient(server.port, "/api/notifications/stream")
    assert anonymous.status == 401
    assert "detail" in anonymous.body()
    bad_token = SSEClient(server.port, "/api/notifications/stream", {"Authorization": "Bearer nope"})
    assert bad_token.status == 401
    bad_cursor = SSEClient(server.port, "/api/notifications/stream/", {**bearer(admin), "Last-Event-ID": "abc"})
    assert bad_cursor.status == 400
    assert "last_event_id" in bad_cursor.body()


@pytest.mark.django_db
def test_stream__a_wsgi_server_refuses_it_instead_of_holding_a_worker(client, admin_user):
    # Django's test client is WSGI, as gunicorn is.
    client.force_login(admin_user)
    response = client.get("/api/notifications/stream")
    assert response.status_code == 503
    assert "ASGI" in response.json()["detail"]


@pytest.mark.django_db
def test_stream__events_show_a_notification_as_the_api_does(org, admin_user):
    from notifications.api.serializers import NotificationSerializer
    from notifications.stream.hub import _changes

    hire(org, "Ada", [admin_user])
    notification = Notification.objects.get(user=admin_user)
    [(seq, user_id, payload)], counts = _changes([admin_user.pk], 0)
    assert (seq, user_id) == (notification.seq, admin_user.pk)
    assert payload == NotificationSerializer(notification).data
    assert counts == {admin_user.pk: 1}
