import re
from collections.abc import Callable

from django import forms
from django.contrib import admin
from django.db.models import BooleanField
from django.http import HttpRequest, HttpResponse

from hcm.admin_display import ConsoleAdminMixin, titled_boolean_filter, when
from hcm.models import Organization
from notifications.channels.base import channels
from notifications.events import event_names, get_event
from notifications.models import NotificationSettings
from notifications.services.notification_settings import notification_settings_get, webhook_secret_new
from notifications.validators import (
    validate_custom_settings,
    validate_e164,
    validate_header_safe,
    validate_hh_mm,
    validate_outbound_webhook_url,
    validate_slack_webhook_url,
    validate_teams_webhook_url,
)


def settings_label(label: str) -> str:
    """ "Sms enabled" → "SMS enabled", "Digest do not disturb" → "Do not disturb"."""
    label = re.sub(r"\bsms\b", "SMS", label, flags=re.IGNORECASE)
    label = re.sub(r"\bslack\b", "Slack", label, flags=re.IGNORECASE)
    return "Do not disturb" if label.lower() == "digest do not disturb" else label


def _credential_url_field(validator: Callable[[str], str], max_length: int, help_text: str) -> forms.CharField:
    """A webhook URL field: never rendered back, kept as typed (whitespace in a URL is
    refused by the validator, not silently repaired)."""
    return forms.CharField(
        required=False,
        max_length=max_length,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        validators=[validator],  # type: ignore[list-item]  # it returns the value too
        help_text=help_text,
    )


class NotificationSettingsForm(forms.ModelForm):
    """The admin's edit form, held to the API's rules (notifications.validators)."""

    # The webhook URLs are credentials: the form never renders them back; empty keeps one.
    slack_webhook_url = _credential_url_field(
        validate_slack_webhook_url, 500, "Leave empty to keep the stored URL. https://hooks.slack.com/services/…"
    )
    clear_slack_webhook_url = forms.BooleanField(required=False, label="Remove the stored webhook URL")
    teams_webhook_url = _credential_url_field(
        validate_teams_webhook_url,
        1000,
        "Leave empty to keep the stored URL. https://….webhook.office.com/… or a Workflows URL",
    )
    clear_teams_webhook_url = forms.BooleanField(required=False, label="Remove the stored Teams URL")
    webhook_url = _credential_url_field(
        validate_outbound_webhook_url,
        1000,
        "Leave empty to keep the stored URL. An https endpoint that receives every notification.",
    )
    clear_webhook_url = forms.BooleanField(required=False, label="Remove the stored webhook URL")
    rotate_webhook_secret = forms.BooleanField(
        required=False, label="Make a new signing secret (shown once, after saving)"
    )

    _FIELD_RULES = {
        "email_from_name": [validate_header_safe],
        "sms_from_number": [validate_e164],
        "digest_quiet_hours_start": [validate_hh_mm],
        "digest_quiet_hours_end": [validate_hh_mm],
    }

    class Meta:
        model = NotificationSettings
        exclude: list[str] = ["webhook_secret"]  # never shown; rotate_webhook_secret makes a new one

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, rules in self._FIELD_RULES.items():
            if name in self.fields:  # each form has its own copies of the fields
                self.fields[name].validators.extend(rules)  # type: ignore[arg-type]  # they return the value too
        for field in self.fields.values():
            field.label = settings_label(str(field.label))

    def clean_slack_webhook_url(self) -> str | None:
        return self.cleaned_data.get("slack_webhook_url") or self.instance.slack_webhook_url

    def clean_teams_webhook_url(self) -> str | None:
        return self.cleaned_data.get("teams_webhook_url") or self.instance.teams_webhook_url

    def clean_webhook_url(self) -> str | None:
        return self.cleaned_data.get("webhook_url") or self.instance.webhook_url

    def clean_custom_settings(self) -> dict:
        value = self.cleaned_data.get("custom_settings")
        return {} if value is None else validate_custom_settings(value)

    def clean(self) -> dict:
        data = super().clean() or {}
        for name in ("slack_webhook_url", "teams_webhook_url", "webhook_url"):
            if data.get(f"clear_{name}"):
                data[name] = None
        return data


# A credential field is never rendered back: the admin shows its hint and offers to clear it.
SECRET_FIELD_WIDGETS = {
    "slack_webhook_url": ["slack_webhook_hint", "slack_webhook_url", "clear_slack_webhook_url"],
    "teams_webhook_url": ["teams_webhook_hint", "teams_webhook_url", "clear_teams_webhook_url"],
    "webhook_url": ["webhook_url_hint", "webhook_url", "clear_webhook_url"],
    "webhook_secret": ["webhook_secret_status", "rotate_webhook_secret"],
}


def channel_fieldsets() -> list[tuple[str, dict]]:
    """One section per registered channel: its master toggle, its settings, and the event
    toggles that name it (plus any other on/off setting of the model starting with its key)."""
    booleans = [f.name for f in NotificationSettings._meta.get_fields() if isinstance(f, BooleanField)]
    sections = []
    for spec in channels():
        fields = [spec.master_toggle]
        for name in spec.settings_fields:
            fields += SECRET_FIELD_WIDGETS.get(name, [name])
        events = [e for e in (get_event(n) for n in event_names()) if e is not None]
        event_toggles = [e.toggles[spec.key] for e in events if spec.key in e.toggles]
        extra = [b for b in booleans if b.startswith(f"{spec.key}_") and b != spec.master_toggle]
        fields += [t for t in dict.fromkeys([*event_toggles, *extra]) if t not in fields]
        sections.append((spec.label, {"fields": fields}))
    return sections


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(ConsoleAdminMixin, admin.ModelAdmin):
    """One row per organization, always: rows are made with the defaults when missing, and
    never added or removed here."""

    form = NotificationSettingsForm
    list_display = [
        "organization",
        "email_on",
        "email_provider",
        "sms_on",
        "slack_on",
        "slack_webhook_hint",
        "digest_frequency",
        "updated",
        "updated_by",
    ]
    list_filter = [
        *((c.master_toggle, titled_boolean_filter(c.label)) for c in channels()),
        "email_provider",
        "digest_frequency",
    ]
    search_fields = ["organization__name", "organization__slug"]
    readonly_fields = [
        "id",
        "slack_webhook_hint",
        "teams_webhook_hint",
        "webhook_url_hint",
        "webhook_secret_status",
        "recent_deliveries",
        "created_at",
        "created_by",
        "updated_at",
        "updated_by",
    ]

    def get_fieldsets(self, request, obj: NotificationSettings | None = None) -> list:
        return [
            (None, {"fields": ["id", "organization"]}),
            *channel_fieldsets(),
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

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # one row per organization, made by notification_settings_get

    def has_delete_permission(self, request: HttpRequest, obj: NotificationSettings | None = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        # Every organization has its row in the list, with the defaults the API would show.
        for organization in Organization.objects.filter(notification_settings__isnull=True):
            notification_settings_get(organization=organization)
        return super().changelist_view(request, extra_context)

    @admin.display(description="Email", boolean=True, ordering="email_enabled")
    def email_on(self, obj: NotificationSettings) -> bool:
        return obj.email_enabled

    @admin.display(description="SMS", boolean=True, ordering="sms_enabled")
    def sms_on(self, obj: NotificationSettings) -> bool:
        return obj.sms_enabled

    @admin.display(description="Slack", boolean=True, ordering="slack_enabled")
    def slack_on(self, obj: NotificationSettings) -> bool:
        return obj.slack_enabled

    @admin.display(description="Updated", ordering="updated_at")
    def updated(self, obj: NotificationSettings) -> str:
        return when(obj.updated_at)

    @admin.display(description="Slack webhook")
    def slack_webhook_hint(self, obj: NotificationSettings) -> str:
        return obj.slack_webhook_hint or "—"

    @admin.display(description="Teams webhook")
    def teams_webhook_hint(self, obj: NotificationSettings) -> str:
        return obj.teams_webhook_hint or "—"

    @admin.display(description="Webhook URL")
    def webhook_url_hint(self, obj: NotificationSettings) -> str:
        return obj.webhook_url_hint or "—"

    @admin.display(description="Signing secret")
    def webhook_secret_status(self, obj: NotificationSettings) -> str:
        return "set (shown only when made)" if obj.webhook_secret else "—"

    @admin.display(description="Recent deliveries")
    def recent_deliveries(self, obj: NotificationSettings) -> str:
        from notifications.admin_notifications import recent_deliveries_html

        return recent_deliveries_html(obj.organization_id) if obj.organization_id else "—"

    def save_model(self, request, obj: NotificationSettings, form, change: bool) -> None:
        if not change:
            obj.id = f"ns_{obj.organization_id}"
            obj.created_by = request.user.get_username()
        obj.updated_by = request.user.get_username()
        fresh = None
        if form.cleaned_data.get("rotate_webhook_secret") or (obj.webhook_url and not obj.webhook_secret):
            obj.webhook_secret = fresh = webhook_secret_new()
        super().save_model(request, obj, form, change)
        if fresh:
            # The one time the secret is shown: the receiver needs it to check signatures.
            self.message_user(request, f"New webhook signing secret (copy it now, it is not shown again): {fresh}")


# Registers the Notification, Delivery, DigestRun and NotificationContact admins.
import notifications.admin_mailbox  # noqa: E402, F401
import notifications.admin_notifications  # noqa: E402, F401
