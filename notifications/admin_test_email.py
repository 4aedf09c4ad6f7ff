"""The "Send test email" button on the notification settings admin page.

POST only (CSRF-checked by admin_view), for staff who may change the settings. The outcome
comes back as a Django message on the change page (sent: the message id; failed: why), and
the attempt is written to the audit log either way.
"""

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_POST
from rest_framework.exceptions import Throttled

from hcm.audit import audit_log
from hcm.throttles import spend
from notifications.email import EmailDeliveryError
from notifications.models import NotificationSettings
from notifications.services.test_email import EmailDisabledError, send_test_email


class TestEmailForm(forms.Form):
    recipient = forms.EmailField(required=False)


@require_POST
def notification_settings_test_email_view(request: HttpRequest, object_id: str) -> HttpResponseRedirect:
    settings = get_object_or_404(NotificationSettings, pk=object_id)
    if not request.user.has_perm("notifications.change_notificationsettings"):
        raise PermissionDenied
    back = HttpResponseRedirect(reverse("admin:notifications_notificationsettings_change", args=[quote(settings.pk)]))

    form = TestEmailForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Test email not sent: {' '.join(str(e) for e in form.errors['recipient'])}")
        return back
    recipient = form.cleaned_data["recipient"] or settings.email_from_address
    try:
        # The API's per-user allowance: the button is no way around it.
        spend(request, "notification_settings_test_email")
        sent = send_test_email(settings, recipient=recipient, requested_by=request.user.get_username())
    except (EmailDisabledError, EmailDeliveryError, Throttled) as exc:
        reason = exc.detail if isinstance(exc, Throttled) else str(exc)
        audit_log(request, settings, f"Test email to {recipient} failed: {reason}")
        messages.error(request, f"Test email to {recipient} not sent: {reason}")
        return back
    audit_log(request, settings, f"Sent a test email to {recipient} (message id {sent.message_id}).")
    messages.success(request, f"Test email sent to {recipient}. Message id: {sent.message_id}")
    return back
