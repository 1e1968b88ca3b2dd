"""Where webhooks may go. A subscription's URL is checked when it is saved
and again before every delivery, against the addresses its host resolves to
then: a name that pointed at a public address when saved may point at
169.254.169.254 later (DNS rebinding), and the delivery connects to the
address it checked."""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from app.core.errors import FieldError, InputRejected
from app.core.settings import Settings

FORBIDDEN = "WEBHOOK_URL_FORBIDDEN"
MAX_URL_LENGTH = 2048


class UrlForbidden(Exception):
    """The URL may not be a webhook target; the message says why."""


@dataclass(frozen=True)
class Target:
    """Where one delivery connects: the URL, and the checked address to
    connect to (None: connect by name, as TASKLOGS_WEBHOOK_ALLOW_PRIVATE lets any address)."""

    url: str
    host: str
    address: str | None


def _parts(url: str, settings: Settings) -> SplitResult:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise UrlForbidden(f"not a URL: {exc}") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UrlForbidden("must be an absolute https:// URL")
    if parts.scheme == "http" and not settings.webhook_allow_http:
        raise UrlForbidden("must use https:// (TASKLOGS_WEBHOOK_ALLOW_HTTP is off)")
    if parts.username or parts.password:
        raise UrlForbidden("must not carry a user name or password")
    return parts


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # is_global leaves out loopback, private, link-local (169.254.169.254, the
    # clouds' metadata address), shared (100.64/10) and reserved ranges.
    return ip.is_global and not ip.is_multicast


async def _addresses(host: str, port: int) -> list[str]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlForbidden(f"its host {host!r} does not resolve") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def resolve_target(url: str, settings: Settings) -> Target:
    """The checked target of a delivery to `url`, or UrlForbidden."""
    parts = _parts(url, settings)
    host = parts.hostname or ""
    if settings.webhook_allow_private:
        return Target(url, host, None)
    addresses = await _addresses(host, parts.port or (443 if parts.scheme == "https" else 80))
    refused = [a for a in addresses if not _public(a)]
    if refused or not addresses:
        raise UrlForbidden(
            f"its host resolves to a loopback, private, link-local or metadata address ({', '.join(refused)}); "
            "TASKLOGS_WEBHOOK_ALLOW_PRIVATE is off"
        )
    return Target(url, host, addresses[0])


async def check_webhook_url(url: str, settings: Settings) -> None:
    """422 WEBHOOK_URL_FORBIDDEN unless `url` may be a webhook target now."""
    if len(url) > MAX_URL_LENGTH:
        raise InputRejected([FieldError("url", f"The URL is longer than {MAX_URL_LENGTH} characters.", FORBIDDEN)])
    try:
        await resolve_target(url, settings)
    except UrlForbidden as exc:
        raise InputRejected([FieldError("url", f"The webhook URL {exc}.", FORBIDDEN)]) from exc
