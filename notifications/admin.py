from django import forms
from django.contrib import admin

from notifications.models import NotificationSettings
from notifications.validators import (
    validate_custom_settings,
    validate_e164,
    validate_header_safe,
    validate_hh_mm,
    validate_slack_webhook_url,
)


class NotificationSettingsForm(forms.ModelForm):
    """The admin's edit form, held to the API's rules (notifications.validators)."""

    # The webhook is a credential: the form never renders it back; empty keeps it.
    slack_webhook_url = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False),
        validators=[validate_slack_webhook_url],  # type: ignore[list-item]  # returns the value too
        help_text="Leave empty to keep the stored URL. https://hooks.slack.com/services/…",
    )
    clear_slack_webhook_url = forms.BooleanField(required=False, label="Remove the stored webhook URL")

    _FIELD_RULES = {
        "email_from_name": [validate_header_safe],
        "sms_from_number": [validate_e164],
        "digest_quiet_hours_start": [validate_hh_mm],
        "digest_quiet_hours_end": [validate_hh_mm],
    }

    class Meta:
        model = NotificationSettings
        exclude: list[str] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, rules in self._FIELD_RULES.items():
            if name in self.fields:  # each form has its own copies of the fields
                self.fields[name].validators.extend(rules)  # type: ignore[arg-type]  # they return the value too

    def clean_slack_webhook_url(self) -> str | None:
        return self.cleaned_data.get("slack_webhook_url") or self.instance.slack_webhook_url

    def clean_custom_settings(self) -> dict:
        value = self.cleaned_data.get("custom_settings")
        return {} if value is None else validate_custom_settings(value)

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("clear_slack_webhook_url"):
            data["slack_webhook_url"] = None
        return data


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(admin.ModelAdmin):
    form = NotificationSettingsForm
    list_display = [
        "organization",
        "email_enabled",
        "email_provider",
        "sms_enabled",
        "slack_enabled",
        "slack_webhook_hint",
        "digest_frequency",
        "updated_at",
        "updated_by",
    ]
    list_filter = ["email_enabled", "sms_enabled", "slack_enabled", "email_provider", "digest_frequency"]
    search_fields = ["organization__name", "organization__slug"]
    readonly_fields = [
        "id",
        "slack_webhook_hint",
        "recent_deliveries",
        "created_at",
        "created_by",
        "updated_at",
        "updated_by",
    ]
    fieldsets = [
        (None, {"fields": ["id", "organization"]}),
        (
            "Email",
            {
                "fields": [
                    "email_enabled",
                    "email_provider",
                    "email_from_address",
                    "email_from_name",
                    "email_on_employee_hired",
                    "email_on_employee_terminated",
                    "email_on_org_updated",
                    "email_on_critical_alerts",
                ]
            },
        ),
        (
            "SMS",
            {
                "fields": [
                    "sms_enabled",
                    "sms_provider",
                    "sms_from_number",
                    "sms_on_employee_hired",
                    "sms_on_employee_terminated",
                    "sms_on_critical_alerts",
                ]
            },
        ),
        (
            "Slack",
            {
                "fields": [
                    "slack_enabled",
                    "slack_webhook_hint",
                    "slack_webhook_url",
                    "clear_slack_webhook_url",
                    "slack_channel",
                    "slack_on_critical_alerts",
                ]
            },
        ),
        (
            "Digest",
            {
                "fields": [
                    "digest_frequency",
                    "digest_quiet_hours_start",
                    "digest_quiet_hours_end",
                    "digest_do_not_disturb",
                ]
            },
        ),
        ("Advanced", {"fields": ["custom_settings"]}),
        ("Deliveries", {"fields": ["recent_deliveries"]}),
        ("Audit", {"fields": ["created_at", "created_by", "updated_at", "updated_by"]}),
    ]

    def get_readonly_fields(self, request, obj: NotificationSettings | None = None) -> list[str]:
        # The row's id is "ns_" + its organization's id: it cannot move to another one.
        return [*super().get_readonly_fields(request, obj), *(["organization"] if obj else [])]

    @admin.display(description="Slack webhook")
    def slack_webhook_hint(self, obj: NotificationSettings) -> str:
        return obj.slack_webhook_hint or "—"

    @admin.display(description="Recent deliveries")
    def recent_deliveries(self, obj: NotificationSettings) -> str:
        from notifications.admin_notifications import recent_deliveries_html

        return recent_deliveries_html(obj.organization_id) if obj.organization_id else "—"

    def save_model(self, request, obj: NotificationSettings, form, change: bool) -> None:
        if not change:
            obj.id = f"ns_{obj.organization_id}"
            obj.created_by = request.user.get_username()
        obj.updated_by = request.user.get_username()
        super().save_model(request, obj, form, change)


# Registers the Notification, Delivery, DigestRun and NotificationContact admins.
import notifications.admin_mailbox  # noqa: E402, F401
import notifications.admin_notifications  # noqa: E402, F401
