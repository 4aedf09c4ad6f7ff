"""Field rules for notification settings; the API serializers, the admin form and delivery
all use these. They raise Django's ValidationError, which DRF serializers accept too."""

import ipaddress
import json
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from hcm.openapi_patterns import openapi_pattern

# \Z, not $: "$" also matches before a trailing newline.
E164 = re.compile(r"^\+[1-9]\d{1,14}\Z")
HH_MM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d\Z")
SLACK_HOST = "hooks.slack.com"
# Stands for the hidden part of a masked credential (NotificationSettings.slack_webhook_hint).
MASK = "…"
CUSTOM_SETTINGS_MAX_BYTES = 16 * 1024


@openapi_pattern(E164)
def validate_e164(value: str) -> str:
    if not E164.match(value):
        raise ValidationError("Enter a phone number in E.164 format, e.g. +15551234567.")
    return value


@openapi_pattern(HH_MM)
def validate_hh_mm(value: str) -> str:
    if not HH_MM.match(value):
        raise ValidationError("Enter a time as HH:MM (24-hour), e.g. 22:00.")
    return value


def validate_header_safe(value: str) -> str:
    """Text that ends up in a mail header: a CR or LF would let it inject headers."""
    if "\r" in value or "\n" in value or "\x00" in value:
        raise ValidationError("Must not contain line breaks.")
    return value


def url_is_clean(url: str) -> bool:
    """No whitespace or control characters anywhere: they would end up in the request
    line, and in every error message that quotes it (with the credential in its path)."""
    return not any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url)


def slack_url_allowed(url: str) -> bool:
    """https on hooks.slack.com, or any scheme-http(s) URL on a host:port listed in
    NOTIFICATIONS_SLACK_ALLOWED_HOSTS (operators' proxies, tests' local servers)."""
    if not url_is_clean(url):
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if parts.username or parts.password or not parts.hostname:
        return False
    host = parts.hostname.lower()
    if parts.scheme == "https" and host == SLACK_HOST and port in (None, 443):
        return True
    if parts.scheme not in ("http", "https"):
        return False
    allowed = {h.lower() for h in settings.NOTIFICATIONS_SLACK_ALLOWED_HOSTS}
    default_port = 443 if parts.scheme == "https" else 80
    return host in allowed or f"{host}:{port or default_port}" in allowed


def validate_slack_webhook_url(value: str) -> str:
    if MASK in value:
        # A masked hint (someone else's, or ours after the URL changed): storing it would
        # silently break delivery.
        raise ValidationError("This is a masked value: send the full webhook URL, or leave the field out.")
    if not url_is_clean(value):
        # Not quoted back: the value is a credential.
        raise ValidationError("Must not contain spaces, line breaks or other control characters.")
    if not slack_url_allowed(value):
        raise ValidationError(
            "Must be an https URL on hooks.slack.com (or a host in NOTIFICATIONS_SLACK_ALLOWED_HOSTS)."
        )
    return value


def validate_custom_settings(value: object) -> dict:
    """A JSON object of at most 16 KiB (compact JSON): free-form, but bounded."""
    if not isinstance(value, dict):
        raise ValidationError("Must be a JSON object.")
    size = len(json.dumps(value, separators=(",", ":")).encode())
    if size > CUSTOM_SETTINGS_MAX_BYTES:
        raise ValidationError(f"Must be at most {CUSTOM_SETTINGS_MAX_BYTES} bytes as JSON (got {size}).")
    return value


# Microsoft Teams: classic incoming webhooks (*.webhook.office.com) and Workflows / Power
# Automate URLs (*.logic.azure.com, *.powerplatform.com), https only.
TEAMS_HOST_SUFFIXES = (".webhook.office.com", ".logic.azure.com", ".powerplatform.com")


def _host_port(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a clean http(s) URL without credentials; None otherwise."""
    if not url_is_clean(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.username or parts.password or not parts.hostname or parts.scheme not in ("http", "https"):
        return None
    return parts.scheme, parts.hostname.lower(), port or (443 if parts.scheme == "https" else 80)


def host_listed(url: str, allowed: list[str]) -> bool:
    """The URL's host, or host:port, is in an operator's allowlist."""
    hp = _host_port(url)
    if hp is None:
        return False
    _, host, port = hp
    listed = {h.lower() for h in allowed}
    return host in listed or f"{host}:{port}" in listed


def teams_url_allowed(url: str) -> bool:
    hp = _host_port(url)
    if hp is None:
        return False
    scheme, host, port = hp
    if scheme == "https" and port == 443 and host.endswith(TEAMS_HOST_SUFFIXES):
        return True
    return host_listed(url, settings.NOTIFICATIONS_TEAMS_ALLOWED_HOSTS)


def validate_teams_webhook_url(value: str) -> str:
    if MASK in value:
        raise ValidationError("This is a masked value: send the full webhook URL, or leave the field out.")
    if not url_is_clean(value):
        raise ValidationError("Must not contain spaces, line breaks or other control characters.")
    if not teams_url_allowed(value):
        raise ValidationError(
            "Must be an https Teams webhook or Workflows URL (*.webhook.office.com, *.logic.azure.com, "
            "*.powerplatform.com) or on a host in NOTIFICATIONS_TEAMS_ALLOWED_HOSTS."
        )
    return value


def webhook_url_allowed(url: str) -> bool:
    """An https URL on a public host name, or any http(s) URL on an allowlisted host. The
    address it resolves to is checked again at send time (channels/http.py)."""
    hp = _host_port(url)
    if hp is None:
        return False
    scheme, host, _ = hp
    if host_listed(url, settings.NOTIFICATIONS_WEBHOOK_ALLOWED_HOSTS):
        return True
    if scheme != "https":
        return False
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host not in ("localhost",) and not host.endswith((".localhost", ".local", ".internal"))
    return ip.is_global


def validate_outbound_webhook_url(value: str) -> str:
    if MASK in value:
        raise ValidationError("This is a masked value: send the full URL, or leave the field out.")
    if not url_is_clean(value):
        raise ValidationError("Must not contain spaces, line breaks or other control characters.")
    if not webhook_url_allowed(value):
        raise ValidationError(
            "Must be an https URL on a public host (no credentials in it; private addresses only for hosts in "
            "NOTIFICATIONS_WEBHOOK_ALLOWED_HOSTS)."
        )
    return value
