"""email_send: send one email from the job's organization (its provider and from address)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator
from rest_framework import serializers

from jobs.context import JobContext
from jobs.email_templates import check_email_template, render_email_template
from jobs.errors import PermanentJobError
from jobs.payload_fields import StrictCharField
from jobs.registry import job_handler
from notifications.email import EmailDeliveryError, send_org_email
from notifications.services.notification_settings import notification_settings_get
from notifications.validators import validate_header_safe

MAX_RECIPIENTS = 50


class RecipientsField(serializers.Field):
    """One address or a list of addresses; always a list once validated."""

    default_error_messages = {
        "invalid": "Enter an email address or a list of email addresses.",
        "empty": "Give at least one address.",
        "too_many": f"At most {MAX_RECIPIENTS} addresses.",
        "address": "{value!r} is not a valid email address.",
    }

    def to_internal_value(self, data) -> list[str]:
        addresses = [data] if isinstance(data, str) else data
        if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
            self.fail("invalid")
        if not addresses:
            self.fail("empty")
        if len(addresses) > MAX_RECIPIENTS:
            self.fail("too_many")
        validate = EmailValidator()
        for address in addresses:
            try:
                validate(address)
            except DjangoValidationError:
                self.fail("address", value=address)
        return list(addresses)

    def to_representation(self, value) -> list[str]:
        return value


class EmailSendPayload(serializers.Serializer):
    to = RecipientsField()
    subject = StrictCharField(max_length=255, trim_whitespace=False, validators=[validate_header_safe])  # type: ignore[list-item]
    body = StrictCharField(required=False, max_length=100_000, trim_whitespace=False)
    template = StrictCharField(required=False, max_length=100, help_text="A name under templates/email/.")
    # The payload key is "data" (documented API), which shadows Serializer.data here only.
    data = serializers.DictField(required=False, help_text="Values for the template.")  # type: ignore[assignment]

    def validate_subject(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value

    def validate_template(self, value: str) -> str:
        try:
            check_email_template(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value

    def validate(self, attrs: dict) -> dict:
        if "body" in attrs and "template" in attrs:
            raise serializers.ValidationError({"template": ["Give body or template, not both."]})
        if "body" not in attrs and "template" not in attrs:
            raise serializers.ValidationError({"body": ["Give body or template."]})
        if "data" in attrs and "template" not in attrs:
            raise serializers.ValidationError({"data": ["Only used with template."]})
        return attrs


@job_handler("email_send", scope="organization", payload=EmailSendPayload, timeout=60, priority="high")
def email_send(ctx: JobContext) -> dict:
    """Send an email (a body, or a template rendered with `data`) from the organization.

    The organization's notification settings choose the provider and the from address;
    with email disabled there, or an address refused for good, the job fails without
    retries. Other delivery errors are retried. Result: the Message-ID sent, `to`, `subject`.
    """
    organization = ctx.organization
    if organization is None:
        raise PermanentJobError(
            "email_send needs an organization: the sender and provider come from its notification settings."
        )
    org_settings = notification_settings_get(organization=organization)
    if not org_settings.email_enabled:
        raise PermanentJobError(f"Email is disabled in the notification settings of {organization.pk}.")
    payload = ctx.payload
    if "template" in payload:
        rendered = render_email_template(
            payload["template"], {"organization_name": organization.name, **payload.get("data", {})}
        )
        text, html = rendered.text, rendered.html
    else:
        text, html = payload["body"], None
    try:
        sent = send_org_email(org_settings, to=payload["to"], subject=payload["subject"], text=text, html=html)
    except EmailDeliveryError as exc:
        if exc.permanent:
            raise PermanentJobError(str(exc)) from exc
        raise
    return {"message_id": sent.message_id, "to": sent.to, "subject": sent.subject}
