"""Limits on failed authentication and on token requests, per client address and per provider.

Each limit is a token bucket: N a minute, with bursts of up to N. Only *failed*
authentications count (a wrong, unknown, expired or missing credential), so an IdP that
authenticates is never slowed down however fast it provisions; and a client address that
authenticated for a provider in the last day is exempt from that provider's failure limits
(an IdP whose token was just rotated is not locked out by an attacker flooding the provider
from elsewhere). Token requests count whether they succeed or not.

A request past a limit is answered 429 with Retry-After before its credential is looked at.
The state lives in this process's memory, like everything on the Gateway object: with N
replicas behind a load balancer, a client can reach each limit once per replica. Bucket
tables are bounded (least recently used keys are forgotten past MAX_KEYS), so a flood from
many addresses cannot grow them without bound. IPv6 clients are counted by their /64, the
block one host usually holds.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.settings import Settings

MAX_KEYS = 10_000
TRUST_SECONDS = 24 * 3600.0


class Limiter:
    """Token buckets by key: ``per_minute`` a minute, bursts of ``per_minute``."""

    def __init__(self, per_minute: int, max_keys: int = MAX_KEYS) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.max_keys = max_keys
        self.buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()

    def _level(self, key: Hashable, now: float) -> float:
        tokens, stamp = self.buckets.get(key, (self.capacity, now))
        return min(self.capacity, tokens + (now - stamp) * self.rate)

    def wait(self, key: Hashable, now: float) -> float:
        """Seconds until the key may go again; 0 when it may go now."""
        if key not in self.buckets:
            return 0.0
        level = self._level(key, now)
        return 0.0 if level >= 1.0 else (1.0 - level) / self.rate

    def take(self, key: Hashable, now: float) -> None:
        level = max(0.0, self._level(key, now) - 1.0)
        self.buckets[key] = (level, now)
        self.buckets.move_to_end(key)
        if len(self.buckets) > self.max_keys:
            self.buckets.popitem(last=False)


def client_key(host: str | None) -> str:
    """The address a client is counted by: the IP, or for IPv6 its /64. Asked on every
    request: an IPv4 address (no colon) is its own key without being parsed."""
    if not host:
        return "-"
    if ":" not in host:
        return host
    return _ipv6_key(host)


@functools.lru_cache(maxsize=4096)
def _ipv6_key(host: str) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def retry_after(wait: float) -> int:
    return max(1, math.ceil(wait))


class Throttle:
    """The gateway's limits (``[gateway]`` auth_failures_per_client, ..._per_provider,
    token_requests_per_client, ..._per_provider)."""

    def __init__(self, settings: Settings) -> None:
        self.client_failures = Limiter(settings.auth_failures_per_client)
        self.provider_failures = Limiter(settings.auth_failures_per_provider)
        self.client_tokens = Limiter(settings.token_requests_per_client)
        self.provider_tokens = Limiter(settings.token_requests_per_provider)
        self.trusted: OrderedDict[tuple[str, str], float] = OrderedDict()
        self.known: set[str] = set()  # ids seen to name providers, to count 429s under

    def _trusted(self, provider_id: str, client: str, now: float) -> bool:
        seen = self.trusted.get((provider_id, client))
        return seen is not None and now - seen < TRUST_SECONDS

    def auth_wait(self, provider_id: str, client: str) -> float:
        """Seconds this client must wait before it may try to authenticate (0: go)."""
        now = time.monotonic()
        if self._trusted(provider_id, client, now):
            return 0.0
        return max(self.client_failures.wait(client, now),
                   self.provider_failures.wait(provider_id, now))

    def failed(self, provider_id: str, client: str) -> None:
        now = time.monotonic()
        if self._trusted(provider_id, client, now):
            return
        self.client_failures.take(client, now)
        self.provider_failures.take(provider_id, now)

    def succeeded(self, provider_id: str, client: str) -> None:
        self.known.add(provider_id)
        self.trusted[(provider_id, client)] = time.monotonic()
        self.trusted.move_to_end((provider_id, client))
        if len(self.trusted) > MAX_KEYS:
            self.trusted.popitem(last=False)

    def token_wait(self, provider_id: str, client: str) -> float:
        """Count a token request; seconds to wait when it is over a limit (0: go)."""
        now = time.monotonic()
        wait = max(self.client_tokens.wait(client, now),
                   self.provider_tokens.wait(provider_id, now))
        if not wait:
            self.client_tokens.take(client, now)
            self.provider_tokens.take(provider_id, now)
        return wait
