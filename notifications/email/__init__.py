"""Email: providers and sending (sending.py), the email_send job (job.py) and its
templates (templates.py, notifications/templates/email/)."""

from notifications.email.sending import EmailDeliveryError, SentEmail, send_org_email

__all__ = ["EmailDeliveryError", "SentEmail", "send_org_email"]
