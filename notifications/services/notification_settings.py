"""Reading and changing an organization's notification settings."""

import logging
import secrets

from django.db import IntegrityError, transaction

from hcm.models import Organization
from notifications.models import NotificationSettings

logger = logging.getLogger(__name__)


def notification_settings_get(*, organization: Organization) -> NotificationSettings:
    """The organization's settings, created with the defaults on first access."""
    try:
        return NotificationSettings.objects.get(organization=organization)
    except NotificationSettings.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            return NotificationSettings.objects.create(id=f"ns_{organization.pk}", organization=organization)
    except IntegrityError:  # created concurrently by another request
        return NotificationSettings.objects.get(organization=organization)


def notification_settings_update(
    *, settings: NotificationSettings, data: dict, updated_by: str
) -> NotificationSettings:
    """Apply validated fields; a field left out keeps its stored value.

    `webhook_rotate_secret: True` (or a first webhook URL) makes a new webhook signing
    secret; its plaintext is on `settings.new_webhook_secret` for this response only."""
    data = dict(data)
    rotate = data.pop("webhook_rotate_secret", False)
    for field, value in data.items():
        setattr(settings, field, value)
    if rotate or (settings.webhook_url and not settings.webhook_secret):
        settings.webhook_secret = webhook_secret_new()
        settings.new_webhook_secret = settings.webhook_secret  # type: ignore[attr-defined]  # this response only
        data["webhook_secret"] = settings.webhook_secret
    settings.updated_by = updated_by
    settings.save(update_fields=[*data.keys(), "updated_by", "updated_at"])
    logger.info(
        "notification settings updated",
        extra={"organization_id": settings.organization_id, "fields": ",".join(sorted(data)), "by": updated_by},
    )
    return settings


def webhook_secret_new() -> str:
    """A signing secret for the outbound webhook (shown once, stored encrypted)."""
    return "whsec_" + secrets.token_urlsafe(32)
