"""The admin's "Audit log": every LogEntry (who did what to which object, and when), read-only."""

from django.contrib import admin
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.admin.utils import quote
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

ACTION_LABELS = {ADDITION: "added", CHANGE: "changed", DELETION: "deleted"}


@admin.register(LogEntry)
class LogEntryAdmin(admin.ModelAdmin):
    list_display = ["action_time", "user", "action", "object_link", "message", "content_type"]
    list_filter = ["action_flag", "content_type", "user"]
    list_select_related = ["user", "content_type"]
    search_fields = ["object_repr", "object_id", "change_message", "user__username"]
    date_hierarchy = "action_time"
    ordering = ["-action_time"]
    readonly_fields = ["action_time", "user", "action", "content_type", "object_link", "message"]
    fields = list(readonly_fields)

    @admin.display(description="Action", ordering="action_flag")
    def action(self, obj: LogEntry) -> str:
        return ACTION_LABELS.get(obj.action_flag, str(obj.action_flag))

    @admin.display(description="Object", ordering="object_repr")
    def object_link(self, obj: LogEntry) -> SafeString | str:
        if obj.action_flag == DELETION or not obj.content_type_id:
            return obj.object_repr
        try:
            ct = obj.content_type
            if ct is None or obj.object_id is None:
                return obj.object_repr
            url = reverse(f"admin:{ct.app_label}_{ct.model}_change", args=[quote(obj.object_id)])
        except NoReverseMatch:
            return obj.object_repr
        return format_html('<a href="{}">{}</a>', url, obj.object_repr)

    @admin.display(description="Message")
    def message(self, obj: LogEntry) -> str:
        return obj.get_change_message() or "—"

    # The trail is written by the admin itself; nobody edits or removes it here.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: LogEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: LogEntry | None = None) -> bool:
        return False
