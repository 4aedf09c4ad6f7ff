from django import forms
from django.contrib import admin

from notifications.models import NotificationSettings


class NotificationSettingsForm(forms.ModelForm):
    # The webhook is a credential: the form never renders it back; empty keeps it.
    slack_webhook_url = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the stored URL. https://hooks.slack.com/services/…",
    )
    clear_slack_webhook_url = forms.BooleanField(required=False, label="Remove the stored webhook URL")

    class Meta:
        model = NotificationSettings
        exclude: list[str] = []

    def clean_slack_webhook_url(self) -> str | None:
        from notifications.validators import slack_url_allowed

        value = self.cleaned_data.get("slack_webhook_url")
        if value and not slack_url_allowed(value):
            raise forms.ValidationError("Must be an https URL on hooks.slack.com.")
        return value or self.instance.slack_webhook_url

    def clean(self) -> dict:
        data = super().clean()
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
    readonly_fields = ["id", "slack_webhook_hint", "created_at", "created_by", "updated_at", "updated_by"]
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
        ("Audit", {"fields": ["created_at", "created_by", "updated_at", "updated_by"]}),
    ]

    @admin.display(description="Slack webhook")
    def slack_webhook_hint(self, obj: NotificationSettings) -> str:
        return obj.slack_webhook_hint or "—"

    def save_model(self, request, obj: NotificationSettings, form, change: bool) -> None:
        if not change:
            obj.id = f"ns_{obj.organization_id}"
            obj.created_by = request.user.get_username()
        obj.updated_by = request.user.get_username()
        super().save_model(request, obj, form, change)
