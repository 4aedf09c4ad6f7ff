"""Start-up checks of the notifications app's settings."""

from django.conf import settings
from django.core.checks import Warning, register


@register()
def site_url_check(app_configs, **kwargs) -> list[Warning]:
    if settings.SITE_URL:
        return []
    return [
        Warning(
            "SITE_URL is not set: notification emails go without their one-click unsubscribe link.",
            hint="Set SITE_URL to this service's public address, e.g. https://hcm.example.com.",
            id="notifications.W001",
        )
    ]
