"""The client's address: the socket peer, or X-Forwarded-For when the peer is a trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=64)
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    nets: list[Network] = []
    for entry in trusted:
        try:
            nets.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            continue  # config validation is the place to complain; here a bad entry trusts nobody
    return tuple(nets)


def _trusted(addr: str, nets: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(addr.strip())
    except ValueError:
        return False
    return any(ip.version == n.version and ip in n for n in nets)


def client_ip(peer: str | None, headers: Mapping[str, str], trusted_proxies: Iterable[str]) -> str:
    """Walk X-Forwarded-For from the right, past trusted proxies, to the first untrusted hop.

    A client can put anything at the left of the header, so only hops added by proxies we trust
    count; with no trusted proxies configured the header is ignored entirely.
    """
    peer = peer or ""
    nets = _networks(tuple(trusted_proxies))
    if not nets or not _trusted(peer, nets):
        return peer
    forwarded = headers.get("X-Forwarded-For", "")
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, nets):
            return hop
    return hops[0] if hops else peer


def request_client_ip(request: object, trusted_proxies: Iterable[str]) -> str:
    """The same for an aiohttp request (what the forwarder calls)."""
    return client_ip(getattr(request, "remote", None), request.headers, trusted_proxies)  # type: ignore[attr-defined]
