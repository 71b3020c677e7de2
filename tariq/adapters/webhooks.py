"""HTTP delivery of one signed notice to a hotel's server (contract section 5), only to
addresses the webhook rules allow (contract v1.1 section 3, tariq/domain/addresses.py).

The rules are checked twice: when an operator sets the URL (`webhook_problem`, a 400) and
when a notice is sent (`post_notice`). At send time the host is resolved once, every address
is checked, and the request goes to a checked address itself (the URL's host kept in the
`Host` header and, for https, in the TLS server name), so a DNS answer that changes between
the check and the connection (DNS rebinding) cannot steer the POST anywhere else.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence

import aiohttp
from yarl import URL

from tariq.config import webhook_allow
from tariq.domain.addresses import IPNetwork, refusal
from tariq.domain.notices import NOTICE_ID_HEADER, SIGNATURE_HEADER, sign


class Unresolvable(OSError):
    """The URL's host has no address."""


async def resolve(host: str, port: int) -> list[str]:
    """The addresses of `host` (an IP literal is its own address), in resolver order."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Unresolvable(f"{host} does not resolve") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def webhook_problem(url: str, allow: Sequence[IPNetwork] | None = None) -> str | None:
    """Why a webhook URL may not be used (an address its host resolves to is refused), or
    None when it may. A host that does not resolve (yet) is accepted: nothing is reached
    through it, and every delivery checks again. The scheme and form are the caller's."""
    parsed = URL(url)
    allow = webhook_allow() if allow is None else allow
    try:
        addresses = await resolve(parsed.host or "", parsed.port or 80)
    except Unresolvable:
        return None
    for address in addresses:
        why = refusal(address, allow)
        if why is not None:
            return f"the webhook's host {parsed.host} resolves to {why}"
    return None


async def _pinned(url: str, allow: Sequence[IPNetwork]) -> tuple[URL, str, str]:
    """(the URL with its host replaced by an allowed address, the Host header, the host).
    Raises PermissionError when no address of the host may be reached."""
    parsed = URL(url)
    host = parsed.host or ""
    addresses = await resolve(host, parsed.port or 80)
    allowed = [a for a in addresses if refusal(a, allow) is None]
    if not allowed:
        why = refusal(addresses[0], allow) if addresses else f"{host} has no address"
        raise PermissionError(f"refused to connect: {why}")
    authority = parsed.raw_host or host
    if ":" in authority:  # an IPv6 literal
        authority = f"[{authority}]"
    if not parsed.is_default_port():
        authority = f"{authority}:{parsed.port}"
    return parsed.with_host(allowed[0].split("%", 1)[0]), authority, host


async def post_notice(
    session: aiohttp.ClientSession,
    url: str,
    secret: str,
    notice_id: str,
    body: bytes,
    timeout_s: float,
    allow: Sequence[IPNetwork] | None = None,
) -> str | None:
    """POST one notice; None when the hotel answered 2xx, otherwise why it failed (for the
    operator: a hotel sees only a generic error). `allow` defaults to TARIQ_WEBHOOK_ALLOW."""
    try:
        target, authority, host = await _pinned(url, webhook_allow() if allow is None else allow)
    except (PermissionError, Unresolvable) as exc:
        return str(exc)
    headers = {
        "Host": authority,
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(body, secret),
        NOTICE_ID_HEADER: notice_id,
        "User-Agent": "tariq-notices/1",
    }
    try:
        async with session.post(
            target,
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            # A redirect is not a 2xx: following it could send the hotel's notices elsewhere.
            allow_redirects=False,
            # TLS checks the certificate against the URL's host, not the address used.
            server_hostname=host if target.scheme == "https" else None,
        ) as response:
            if 200 <= response.status < 300:
                return None
            return f"HTTP {response.status}"
    except TimeoutError:
        return f"no answer within {timeout_s:g} s"
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
