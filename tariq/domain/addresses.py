"""Which network addresses a webhook may reach (contract v1.1 section 3).

A hotel's webhook URL is chosen by whoever holds an operator token, and the notice deliverer
POSTs to it from inside the service's network: without a rule it could reach the cloud
metadata service (169.254.169.254), the service's own Redis or PostgreSQL, or anything on the
private network, and its error text would tell which ports are open. So a webhook may reach
only public unicast addresses, unless an operator allows a range with `TARIQ_WEBHOOK_ALLOW`.
Pure: the resolving and connecting are in tariq/adapters/webhooks.py.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allow(text: str | None) -> tuple[IPNetwork, ...]:
    """The networks of `TARIQ_WEBHOOK_ALLOW` (comma-separated CIDRs; empty: none).
    Raises ValueError naming the entry that is not a CIDR."""
    networks: list[IPNetwork] = []
    for entry in (text or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"not a CIDR network: {entry!r}") from None
    return tuple(networks)


def _kind(address: IPAddress) -> str | None:
    """What makes an address unfit for a webhook, or None for a public unicast one."""
    if address.is_loopback:
        return "loopback"
    if address.is_unspecified:
        return "unspecified"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_reserved:
        return "reserved"
    if address.is_private or not address.is_global:
        return "private"
    return None


def refusal(address: IPAddress | str, allow: Sequence[IPNetwork] = ()) -> str | None:
    """Why a webhook may not connect to `address`, or None when it may.

    An IPv4-mapped IPv6 address (::ffff:127.0.0.1) is judged as the IPv4 address it maps;
    an address inside an allowed network is admitted whatever its kind.
    """
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
    if any(ip.version == net.version and ip in net for net in allow):
        return None
    kind = _kind(ip)
    if kind is None:
        return None
    article = "an" if kind[0] in "aeiou" else "a"
    return f"{ip} is {article} {kind} address (allow it with TARIQ_WEBHOOK_ALLOW)"
