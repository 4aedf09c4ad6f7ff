"""The worker's URLconf (hcm.settings_worker): the routes jobs build links to with
reverse(), at the same paths as in hcm.urls. The worker serves none of them; their views
are never called here, so a stand-in keeps the web views (and DRF, the admin) unimported.
tests/hcm/test_worker_settings.py checks every name here reverses as in hcm.urls."""

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.urls import path


def _not_served(request: HttpRequest, **kwargs: str) -> HttpResponse:
    return HttpResponseNotFound()


urlpatterns = [
    # notifications.unsubscribe.unsubscribe_url: the one-click link in every email.
    path("notifications/unsubscribe/<str:token>", _not_served, name="notifications-unsubscribe"),
]
