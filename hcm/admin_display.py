"""Pieces every operator-console page shares: times, durations, ids that copy, id search.

Times in lists read relative ("3 min ago") with the exact time, to the second, on hover;
an empty value reads "—" everywhere (also admin.site.empty_value_display, set in hcm/admin.py).
"""

from datetime import datetime
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

EMPTY = "—"


def exact_time(value: datetime) -> str:
    """The time to the second in the site's zone, e.g. "2026-11-26 14:02:09 UTC"."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z")


def relative_time(value: datetime, *, now: datetime | None = None) -> str:
    """ "12 s ago", "3 min ago", "5 h ago", "2 d ago"; "in 4 min" for the future."""
    seconds = ((now or timezone.now()) - value).total_seconds()
    ahead, seconds = seconds < 0, abs(seconds)
    if seconds < 60:
        text = f"{seconds:.0f} s"
    elif seconds < 3600:
        text = f"{seconds // 60:.0f} min"
    elif seconds < 86400 * 2:
        text = f"{seconds // 3600:.0f} h"
    else:
        text = f"{seconds // 86400:.0f} d"
    return f"in {text}" if ahead else f"{text} ago"


def when(value: datetime | None) -> SafeString | str:
    """A list cell: relative time, the exact time on hover."""
    if value is None:
        return EMPTY
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', value.isoformat(), exact_time(value), relative_time(value)
    )


def duration_label(ms: float | None) -> str:
    """Milliseconds to one decimal under a second, then seconds, then minutes."""
    if ms is None:
        return EMPTY
    if ms < 1000:
        return f"{ms:.1f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    return f"{ms / 60_000:.1f} min"


def copyable_id(value: str | None) -> SafeString | str:
    """The real id (never the URL-escaped one) with a one-click copy button (hcm/static/hcm/console.js)."""
    if not value:
        return EMPTY
    return format_html(
        '<span class="copy-id"><code>{}</code><button type="button" class="copy-id-button" data-copy="{}" '
        'title="Copy the id" aria-label="Copy the id {}">Copy</button></span>',
        value,
        value,
        value,
    )


def admin_change_url(obj: Model) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[quote(obj.pk)])


class ConsoleAdminMixin:
    """Ids as operators paste them: a search for an object's id (raw or URL-escaped) opens
    that object, and a change URL holding the raw id (`job_22…` is read as `job"…` by the
    admin's unescaping) still finds it."""

    live_refresh_seconds: int | None = None  # set: the list refreshes itself while open

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        pasted = request.GET.get("q", "").strip()
        if pasted and " " not in pasted:
            for candidate in dict.fromkeys([pasted, unquote(pasted)]):
                try:
                    obj = self.get_queryset(request).filter(pk=candidate).first()  # type: ignore[attr-defined]
                except (ValueError, TypeError, ValidationError):  # not a value of this pk's type
                    continue
                if obj is not None:
                    return HttpResponseRedirect(admin_change_url(obj))
        context = {**(extra_context or {}), "live_refresh_seconds": self.live_refresh_seconds}
        return super().changelist_view(request, context)  # type: ignore[misc]

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Model | None:
        obj = super().get_object(request, object_id, from_field)  # type: ignore[misc]
        if obj is None and from_field is None:
            # The view unescaped the id; escaping it again gives back what was in the URL.
            obj = super().get_object(request, quote(object_id), from_field)  # type: ignore[misc]
        return obj


def titled_boolean_filter(title: str) -> type[admin.BooleanFieldListFilter]:
    """A yes/no list filter headed `title` (the field's verbose name reads "Sms enabled")."""

    class TitledBooleanFilter(admin.BooleanFieldListFilter):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.title = title

    return TitledBooleanFilter


SERVICE_WIDE = "Service-wide"


class OrganizationFilter(admin.SimpleListFilter):
    """One organization filter for rows that belong to an organization or to none: every
    organization by name, and "Service-wide" for the rows without one."""

    title = "organization"
    parameter_name = "organization__id__exact"
    SERVICE = "service"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        from hcm.models import Organization

        return [(self.SERVICE, SERVICE_WIDE), *Organization.objects.order_by("name").values_list("pk", "name")]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value() == self.SERVICE:
            return queryset.filter(organization__isnull=True)
        if self.value():
            return queryset.filter(organization_id=self.value())
        return queryset
