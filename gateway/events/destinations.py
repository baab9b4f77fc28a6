"""Where webhooks may send: public unicast addresses, and the networks the operator allows.

A webhook's URL is chosen by an admin, but the POST leaves from the gateway's own network:
unchecked, it would reach what only the gateway can reach (services on loopback, the cloud
metadata endpoint, the private network) and its errors would map that network. So a
receiver is checked when its webhook is registered and again at every connection. The
connection is made here: the name is resolved once, every address it resolves to must be
allowed, and the socket connects to one of those addresses, never to the answer of a second
lookup, which a DNS rebinding attack would change between the check and the connect. TLS is
still verified against the name in the URL, since only the socket's address is chosen here.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

import anyio
import httpcore
import httpx

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

THIS_NETWORK = ip_network("0.0.0.0/8")
SHARED = ip_network("100.64.0.0/10")  # carrier-grade NAT: not global, yet not is_private
PRIVATE = (ip_network("10.0.0.0/8"), ip_network("172.16.0.0/12"),
           ip_network("192.168.0.0/16"))
UNIQUE_LOCAL = ip_network("fc00::/7")
NAT64 = ip_network("64:ff9b::/96")  # the last 32 bits are an IPv4 address a gateway reaches
# Names that only mean something inside a network (RFC 6761, 6762, 8375 and the suffixes
# networks use in practice): metadata.google.internal, printer.local, intranet.corp.
INTERNAL_SUFFIXES = ("localhost", "local", "internal", "localdomain", "home.arpa", "lan",
                     "corp", "home", "intranet", "private")


class Refused(Exception):
    """A receiver outside the allowed networks; the message says what kind of address it
    is, never the address itself."""


class Unresolved(Exception):
    """A receiver's name that does not resolve."""


@lru_cache(maxsize=8)
def networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """webhook_allow_networks, read (the settings checked each entry at startup)."""
    return tuple(ip_network(entry) for entry in entries)


def allowed(address: Address, allow: tuple[Network, ...]) -> bool:
    # An IPv4-mapped address is that IPv4 host, reached through an IPv6 socket.
    mapped = address.ipv4_mapped if isinstance(address, IPv6Address) else None
    return any(address in net or (mapped is not None and mapped in net) for net in allow)


def embedded(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo client, NAT64)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def kind(address: Address) -> str | None:
    """Why an address is not a public unicast one (None when it is)."""
    if isinstance(address, IPv6Address):
        inner = embedded(address)
        if inner is not None and kind(inner):
            return kind(inner)
        if address.ipv4_mapped is not None:
            return "IPv4-mapped"
    if address.is_unspecified or address in THIS_NETWORK:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address in SHARED:
        return "shared address space"
    if address in UNIQUE_LOCAL:
        return "unique-local"
    if any(address in net for net in PRIVATE) or getattr(address, "is_site_local", False):
        return "private network"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "not a public address"
    return None


def internal_name(host: str) -> bool:
    """A name that resolves only inside a network: one label (completed from the resolver's
    search list), localhost, or under an internal suffix."""
    name = host.lower().rstrip(".")
    return "." not in name or any(name == s or name.endswith("." + s)
                                  for s in INTERNAL_SUFFIXES)


def numeric(host: str) -> bool:
    """An address in any spelling the resolver reads as one (127.1, 0x7f.1, 2130706433)."""
    try:
        socket.getaddrinfo(host, None, flags=socket.AI_NUMERICHOST)
    except (OSError, UnicodeError):
        return False
    return True


def refusal(host: str, addresses: Iterable[Address], allow: tuple[Network, ...]) -> str | None:
    """Why a receiver that resolves to `addresses` is refused (None: it is allowed). Every
    address counts: a name with one internal address among public ones is refused."""
    found = list(addresses)
    for address in found:
        why = None if allowed(address, allow) else kind(address)
        if why:
            return why
    if not numeric(host) and internal_name(host) and \
            not (found and all(allowed(a, allow) for a in found)):
        return "internal name"
    return None


async def resolve(host: str, port: int) -> list[tuple[str, Address]]:
    """(what to connect to, its address) for each address of `host`, in the resolver's
    order; [] when it does not resolve. The lookup runs on a worker thread."""
    try:
        found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    out: list[tuple[str, Address]] = []
    for *_, sockaddr in found:
        target = str(sockaddr[0])
        if target not in (t for t, _ in out):
            out.append((target, ip_address(target)))
    return out


async def check(url: str, allow: tuple[Network, ...], within: float) -> str | None:
    """At registration: why this receiver is refused, None when it may be registered. A name
    that does not resolve (yet) is accepted: it is checked again at every delivery."""
    host = httpx.URL(url).raw_host.decode("ascii")
    found: list[tuple[str, Address]] = []
    with anyio.move_on_after(within):
        found = await resolve(host, 80)
    return refusal(host, (address for _, address in found), allow)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's connections, opened only to addresses that were just checked."""

    def __init__(self, allow: tuple[Network, ...]) -> None:
        self.allow = allow
        self.inner = httpcore.AnyIOBackend()

    # The signatures are httpcore's, timeout included.
    async def connect_tcp(
            self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109
            local_address: str | None = None,
            socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        found = await resolve(host, port)
        if not found:
            raise Unresolved(host)
        why = refusal(host, (address for _, address in found), self.allow)
        if why:
            raise Refused(why)
        failure: Exception = httpcore.ConnectError(f"no address of {host} answered")
        for target, _ in found:  # each address was checked: connect to it by number
            try:
                return await self.inner.connect_tcp(target, port, timeout, local_address,
                                                    socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    async def connect_unix_socket(
            self, path: str, timeout: float | None = None,  # noqa: ASYNC109
            socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise Refused("a local socket")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


def pool(allow: tuple[Network, ...]) -> httpcore.AsyncConnectionPool:
    """The connections deliveries are sent on. No proxy from the environment (the address
    check must see the receiver, not a proxy); certificates are verified as httpx does
    (SSL_CERT_FILE or SSL_CERT_DIR, else certifi's roots)."""
    return httpcore.AsyncConnectionPool(ssl_context=httpx.create_ssl_context(),
                                        network_backend=GuardedBackend(allow),
                                        max_keepalive_connections=20, keepalive_expiry=5.0)
