"""Template filters of the operator console (the same renderings as the ModelAdmins use)."""

from datetime import datetime

from django import template
from django.utils.safestring import SafeString

from hcm.admin_display import duration_label, when

register = template.Library()


@register.filter(name="when")
def when_filter(value: datetime | None) -> SafeString | str:
    """ "3 min ago", with the exact time to the second on hover."""
    return when(value)


@register.filter(name="duration")
def duration_filter(ms: float | None) -> str:
    return duration_label(ms)
