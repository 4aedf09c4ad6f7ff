"""Reading and changing an organization's notification settings."""

import logging

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
    """Apply validated fields; a field left out keeps its stored value."""
    for field, value in data.items():
        setattr(settings, field, value)
    settings.updated_by = updated_by
    settings.save(update_fields=[*data.keys(), "updated_by", "updated_at"])
    logger.info(
        "notification settings updated",
        extra={"organization_id": settings.organization_id, "fields": ",".join(sorted(data)), "by": updated_by},
    )
    return settings
