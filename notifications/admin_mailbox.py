"""Notifications → Mailbox: what the development mailbox (notifications.mailbox) kept.
Read-only; operators (superusers) only, since it holds every organization's mail."""

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from notifications.models import StoredEmail


@admin.register(StoredEmail)
class StoredEmailAdmin(admin.ModelAdmin):
    list_display = ["created_at", "subject", "recipients", "from_email"]
    search_fields = ["subject", "message_id", "from_email"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "created_at",
        "message_id",
        "from_email",
        "recipients",
        "subject",
        "body_text",
        "html_source",
        "raw_message",
    ]
    fields = list(readonly_fields)

    @admin.display(description="To")
    def recipients(self, obj: StoredEmail) -> str:
        return ", ".join(obj.to)

    @admin.display(description="Text")
    def body_text(self, obj: StoredEmail) -> str:
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", obj.body)

    @admin.display(description="HTML (source)")
    def html_source(self, obj: StoredEmail) -> str:
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", obj.html) if obj.html else "-"

    @admin.display(description="Raw message")
    def raw_message(self, obj: StoredEmail) -> str:
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", obj.raw)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: StoredEmail | None = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: StoredEmail | None = None) -> bool:
        return False
