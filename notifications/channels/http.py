"""One POST to a provider, with http.client: no redirects are ever followed (a 3xx is an
answer like any other), no proxies from the environment, and a short timeout."""

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from notifications.channels.base import DeliveryError
from notifications.validators import host_listed, url_is_clean

MAX_BODY_BYTES = 64 * 1024
DEFAULT_RETRY_AFTER = 60.0
MAX_RETRY_AFTER = 24 * 3600.0


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def http_post(url: str, *, body: bytes, headers: dict[str, str], timeout: float, service: str) -> HttpResponse:
    """POST `body` to `url`. Network failures and timeouts raise a transient DeliveryError
    naming `service` and the host only (URLs can hold credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    elif parts.scheme == "http":
        conn = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    else:
        raise DeliveryError(f"{service}: unsupported URL scheme {parts.scheme!r}.", permanent=True)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not url_is_clean(url):
        raise DeliveryError(
            f"{service}: the stored URL contains spaces, line breaks or control characters (host {host or '?'}); "
            "nothing was sent. Update the URL.",
            permanent=True,
        )
    try:
        conn.request("POST", path, body=body, headers={**headers, "Content-Length": str(len(body))})
        response = conn.getresponse()
        data = response.read(MAX_BODY_BYTES)
        return HttpResponse(
            status=response.status,
            headers={k.lower(): v for k, v in response.getheaders()},
            body=data,
        )
    except http.client.InvalidURL:
        # Its message quotes the URL, credential and all: say only what is wrong.
        raise DeliveryError(
            f"{service}: the stored URL cannot be requested (it contains spaces, line breaks or other "
            f"characters a URL may not hold; host {host or '?'}). Update the URL.",
            permanent=True,
        ) from None
    except TimeoutError:
        raise DeliveryError(f"{service} did not answer within {timeout:g} s ({host}).") from None
    except ssl.SSLError as exc:
        raise DeliveryError(f"TLS error talking to {service} ({host}): {exc.reason or exc}.") from None
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(f"Cannot reach {service} ({host}): {exc.__class__.__name__}: {exc}.") from None
    finally:
        conn.close()


def classify_http(response: HttpResponse, *, service: str, detail: str | None = None) -> None:
    """The one reading of a provider's HTTP answer, for every channel: 2xx sent; 429
    retried after Retry-After; 3xx (redirects are never followed) and other 4xx permanent;
    5xx retried with the job system's backoff. Raises DeliveryError unless sent."""
    status = response.status
    if 200 <= status < 300:
        return
    detail = detail if detail is not None else body_excerpt(response.body)
    if status == 429:
        delay = retry_after_seconds(response.header("Retry-After"))
        raise DeliveryError(f"{service} rate-limited the request (429); retry after {delay:g} s.", retry_after=delay)
    if 300 <= status < 400:
        raise DeliveryError(
            f"{service} answered a redirect ({status}); redirects are not followed. Check the URL.", permanent=True
        )
    if status in (404, 410):
        raise DeliveryError(
            f"{service} says the endpoint no longer exists ({status} {detail}); update the URL.", permanent=True
        )
    if 400 <= status < 500:
        raise DeliveryError(f"{service} refused the message ({status} {detail}).", permanent=True)
    raise DeliveryError(f"{service} failed ({status} {detail}).")


def check_public_address(url: str, *, allowed: list[str], service: str) -> None:
    """Refuse (permanently) a URL whose host resolves to a private, loopback, link-local or
    otherwise non-public address, unless the host is allowlisted: a webhook must not reach
    into the network this service runs in (SSRF)."""
    if host_listed(url, allowed):
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError:
        raise DeliveryError(f"{service}: cannot resolve {host}.") from None
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if not ip.is_global:
            raise DeliveryError(
                f"{service}: {host} resolves to a non-public address ({ip}); nothing was sent.", permanent=True
            )


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float:
    """Retry-After as seconds (delta-seconds or an HTTP date), clamped to [1 s, 24 h]."""
    if not value:
        return DEFAULT_RETRY_AFTER
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return DEFAULT_RETRY_AFTER
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 1.0), MAX_RETRY_AFTER)


def body_excerpt(body: bytes, limit: int = 200) -> str:
    return body[:limit].decode(errors="replace").strip()
