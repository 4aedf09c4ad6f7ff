"""Admin for the notification center: notifications, deliveries, digest runs, contacts.
Worker-owned fields are read-only; resending calls the deliveries service."""

import json

from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from hcm.audit import audit_log
from jobs.services import JobStateError
from notifications.models import Delivery, DeliveryChannel, DigestRun, Notification, NotificationContact
from notifications.services.deliveries import delivery_resend, delivery_resendable

RECENT_DELIVERIES = 10


def recent_deliveries_html(organization_id: str) -> str:
    """The organization's latest deliveries and a link to all of them (settings page)."""
    url = reverse("admin:notifications_delivery_changelist") + f"?organization__id__exact={organization_id}"
    recent = Delivery.objects.filter(organization_id=organization_id).order_by("-created_at", "-id")[:RECENT_DELIVERIES]
    rows = format_html_join(
        "",
        '<li><a href="{}">{}</a> · {} · {} → {} · <strong>{}</strong>{}</li>',
        (
            (
                reverse("admin:notifications_delivery_change", args=[quote(d.pk)]),
                d.created_at.strftime("%Y-%m-%d %H:%M"),
                d.event,
                d.channel,
                d.recipient,
                d.status,
                f" ({d.last_error[:80]})" if d.last_error else "",
            )
            for d in recent
        ),
    )
    return format_html('<ul style="margin: 0; padding-left: 16px;">{}</ul><a href="{}">All deliveries →</a>', rows, url)


def _job_link(job_id: str | None) -> str:
    if not job_id:
        return "—"
    try:
        url = reverse("admin:jobs_backgroundjob_change", args=[quote(job_id)])
    except Exception:  # the jobs admin may not be registered
        return job_id
    return format_html('<a href="{}">{}</a>', url, job_id)


class DeliveryInline(admin.TabularInline):
    model = Delivery
    fk_name = "notification"
    readonly_fields = ["id", "channel", "recipient", "status", "attempts", "sent_at", "last_error"]
    fields = list(readonly_fields)
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class OutboundChannelFilter(admin.SimpleListFilter):
    """Notifications that went (or are going) out by a channel, by their deliveries."""

    title = "channel"
    parameter_name = "channel"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return list(DeliveryChannel.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Notification]) -> QuerySet[Notification]:
        if self.value() in DeliveryChannel.values:
            return queryset.filter(deliveries__channel=self.value()).distinct()
        return queryset


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at", "organization", "user", "type", "priority", "status", "read_at"]
    list_filter = ["organization", OutboundChannelFilter, "type", "status", "priority"]
    list_select_related = ["organization", "user"]
    search_fields = ["id", "title", "user__username", "user__email"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "id",
        "organization",
        "user",
        "type",
        "title",
        "message",
        "priority",
        "channels",
        "status",
        "metadata",
        "action_url",
        "read_at",
        "sent_at",
        "digest_run",
        "created_at",
    ]
    inlines = [DeliveryInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # sent through notify() or the API, which fan out and queue deliveries


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "created_at",
        "organization",
        "event",
        "channel",
        "recipient",
        "status",
        "attempts",
        "sent_at",
        "short_error",
    ]
    list_filter = ["organization", "channel", "status", "event"]
    list_select_related = ["organization"]
    search_fields = ["id", "recipient", "provider_message_id", "notification__id"]
    date_hierarchy = "created_at"
    actions = ["resend_failed"]
    readonly_fields = [
        "id",
        "organization",
        "event",
        "channel",
        "recipient",
        "notification",
        "digest_run",
        "user",
        "status",
        "attempts",
        "deferred_until",
        "sent_at",
        "provider_message_id",
        "job_link",
        "last_error_pre",
        "content_pre",
        "created_at",
        "updated_at",
    ]
    fields = list(readonly_fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # the worker owns every field; the resend action is the only write

    @admin.display(description="Last error")
    def short_error(self, obj: Delivery) -> str:
        return (obj.last_error or "")[:120]

    @admin.display(description="Job")
    def job_link(self, obj: Delivery) -> str:
        return _job_link(obj.job_id)

    @admin.display(description="Last error")
    def last_error_pre(self, obj: Delivery) -> str:
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", obj.last_error) if obj.last_error else "—"

    @admin.display(description="Content")
    def content_pre(self, obj: Delivery) -> str:
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", json.dumps(obj.content, indent=2))

    @admin.action(description="Resend selected failed deliveries")
    def resend_failed(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        selected = list(queryset.select_related("job"))
        resendable = [d for d in selected if delivery_resendable(d)]
        resent, skipped = 0, len(selected) - len(resendable)
        for delivery in resendable:
            try:
                delivery_resend(delivery=delivery, by=request.user.get_username())
                resent += 1
                audit_log(request, delivery, "Admin action: delivery queued again.")
            except JobStateError:  # changed meanwhile
                skipped += 1
        if resent:
            self.message_user(request, f"Queued {resent} delivery(ies) again.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"Skipped {skipped} that had not failed.", messages.WARNING)


@admin.register(DigestRun)
class DigestRunAdmin(admin.ModelAdmin):
    list_display = ["id", "organization", "user", "frequency", "period_start", "period_end", "notification_count"]
    list_filter = ["organization", "frequency"]
    list_select_related = ["organization", "user"]
    readonly_fields = [
        "organization",
        "user",
        "frequency",
        "period_start",
        "period_end",
        "notification_count",
        "created_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(NotificationContact)
class NotificationContactAdmin(admin.ModelAdmin):
    list_display = ["user", "phone", "updated_at"]
    search_fields = ["user__username", "user__email", "phone"]
    raw_id_fields = ["user"]
