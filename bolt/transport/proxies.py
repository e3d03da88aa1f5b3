"""The client's real address behind a reverse proxy: ``X-Forwarded-For`` and ``X-Forwarded-Proto``,
believed only from the proxies listed in ``Settings.trusted_proxies`` (addresses or networks).

Anyone can send ``X-Forwarded-For``, so taking it from an untrusted peer would let any client
choose the address the access log, the per-client connection cap and the handler see. From a
trusted peer, the list is read from its right end: each proxy appends the address it received
the request from, so the client is the rightmost address that is not itself a trusted proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    __slots__ = ("networks",)

    def __init__(self, proxies: Iterable[str]) -> None:
        if isinstance(proxies, str):
            raise TypeError("trusted_proxies is a list of addresses or networks, not one str")
        self.networks: tuple[Network, ...] = tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)

    def trusts(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def client(self, peer: tuple[str, int], forwarded_for: list[str]) -> tuple[str, int]:
        """The client's address for a request from ``peer`` carrying these ``X-Forwarded-For``
        fields; the peer itself when it is not trusted or the fields name no valid address (the
        port of a forwarded address is unknown: 0)."""
        if not forwarded_for or not self.trusts(peer[0]):
            return peer
        hops = [hop.strip() for field in forwarded_for for hop in field.split(",")]
        for hop in reversed(hops):
            try:
                address = str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a malformed list: believe none of it
            if not self.trusts(address):
                return address, 0
        return str(ipaddress.ip_address(hops[0])), 0  # every hop is a proxy: the first one sent it

    def secure(self, peer: tuple[str, int], forwarded_proto: list[str], secure: bool) -> bool:
        """Whether the client reached the first proxy over TLS (``X-Forwarded-Proto: https``)."""
        if not forwarded_proto or not self.trusts(peer[0]):
            return secure
        return forwarded_proto[0].split(",")[0].strip().lower() in ("https", "wss")
