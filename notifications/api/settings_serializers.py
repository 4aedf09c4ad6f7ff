"""Input and output shapes of /api/system/notification-settings."""

from rest_framework import serializers

from hcm.fields import ChoiceField
from notifications.models import NotificationSettings
from notifications.models.settings import DigestFrequency, EmailProvider, SmsProvider
from notifications.validators import (
    validate_custom_settings,
    validate_e164,
    validate_header_safe,
    validate_hh_mm,
    validate_slack_webhook_url,
)

READ_ONLY_FIELDS = ["id", "organization_id", "created_at", "created_by", "updated_at", "updated_by"]


class NotificationSettingsSerializer(serializers.ModelSerializer):
    """Output: the settings, with the Slack webhook URL masked."""

    organization_id = serializers.CharField(read_only=True)
    slack_webhook_url = serializers.CharField(source="slack_webhook_hint", read_only=True, allow_null=True)
    slack_webhook_configured = serializers.SerializerMethodField()

    class Meta:
        model = NotificationSettings
        exclude = ["organization"]

    def get_slack_webhook_configured(self, obj: NotificationSettings) -> bool:
        return bool(obj.slack_webhook_url)


class NotificationSettingsUpdateSerializer(serializers.Serializer):
    """Input for PUT and PATCH: any subset of the writable fields; nothing else."""

    email_enabled = serializers.BooleanField(required=False)
    email_provider = ChoiceField(EmailProvider.choices, required=False)
    email_from_address = serializers.EmailField(required=False, max_length=254)
    email_from_name = serializers.CharField(
        required=False,
        max_length=100,
        trim_whitespace=False,
        validators=[validate_header_safe],  # type: ignore[list-item]
    )
    email_on_employee_hired = serializers.BooleanField(required=False)
    email_on_employee_terminated = serializers.BooleanField(required=False)
    email_on_org_updated = serializers.BooleanField(required=False)
    email_on_critical_alerts = serializers.BooleanField(required=False)

    sms_enabled = serializers.BooleanField(required=False)
    sms_provider = ChoiceField(SmsProvider.choices, required=False, allow_null=True)
    sms_from_number = serializers.CharField(required=False, allow_null=True, validators=[validate_e164])
    sms_on_employee_hired = serializers.BooleanField(required=False)
    sms_on_employee_terminated = serializers.BooleanField(required=False)
    sms_on_critical_alerts = serializers.BooleanField(required=False)

    slack_enabled = serializers.BooleanField(required=False)
    slack_webhook_url = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=500)
    slack_channel = serializers.CharField(required=False, allow_null=True, max_length=80)
    slack_on_critical_alerts = serializers.BooleanField(required=False)

    digest_frequency = ChoiceField(DigestFrequency.choices, required=False, allow_null=True)
    digest_quiet_hours_start = serializers.CharField(required=False, validators=[validate_hh_mm])
    digest_quiet_hours_end = serializers.CharField(required=False, validators=[validate_hh_mm])
    digest_do_not_disturb = serializers.BooleanField(required=False)

    custom_settings = serializers.JSONField(required=False)

    def to_internal_value(self, data: object) -> dict:
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        unknown = sorted(set(data) - set(self.fields) - set(READ_ONLY_FIELDS) - {"slack_webhook_configured"})
        errors: dict = {name: ["Unknown field."] for name in unknown}
        # Read-only fields echoed back by a client that PUTs what it GOT are ignored.
        data = {k: v for k, v in data.items() if k in self.fields}
        try:
            validated = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            errors.update(exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail})
        if errors:  # every bad field is named at once, unknown ones included
            raise serializers.ValidationError(errors)
        return validated

    def validate_slack_webhook_url(self, value: str | None) -> str | None:
        if not value:
            return None
        instance = self.instance
        if instance is not None and value == instance.slack_webhook_hint:
            # The masked hint sent back unchanged (GET, edit other fields, PUT): keep the URL.
            return instance.slack_webhook_url
        return validate_slack_webhook_url(value)

    def validate_custom_settings(self, value: object) -> dict:
        return validate_custom_settings(value)


class TestEmailQuerySerializer(serializers.Serializer):
    recipient = serializers.EmailField(required=False, help_text="Where to send it; default: the from address.")


class TestEmailSentSerializer(serializers.Serializer):
    status = serializers.CharField()
    to = serializers.EmailField()
    message_id = serializers.CharField()
