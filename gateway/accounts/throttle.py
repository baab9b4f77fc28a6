"""Limits on failed authentication and on token requests, per client, per network and per
provider.

Each limit is a token bucket: N a minute, with bursts of up to N. Only *failed*
authentications count (a wrong, unknown, expired or missing credential), so an IdP that
authenticates is never slowed down however fast it provisions.

A valid credential is never refused because of other clients' failures. The credential is
checked first; only a request that fails is counted, against its client, its client's
network and the provider it named, and it is answered 429 instead of 401 when one of those
limits was already reached. The one refusal that does not look at the credential is a
client's own: an address past its own failure limit waits its Retry-After whatever it sends,
so that guessing from it stops there. No exemption is remembered, so nothing changes after a
restart, for a new IdP or for one whose egress address changes.

A client is its IPv4 address, or its IPv6 /64 (the block one host usually holds); its
network is the IPv4 /24 or the IPv6 /48 around it, so that a host handed a whole prefix
cannot make every /64 a fresh client: their failures share the network's limit.

The buckets live in this process's memory and each decision is one synchronous call (no
await between reading a bucket and taking from it), so concurrent requests cannot both
spend the last token. The worker processes of one `serve --workers N` share theirs instead,
in a file each maps (gateway.accounts.shared_limits, under a lock): the limits hold for the
host. With N replicas a client can reach each limit once per replica; the
counts stay out of the database so that a flood of failures costs no writes (the admin's
per-minute failure counts are written in batches, gateway.accounts.auth_failures). Bucket
tables are bounded (least recently used keys are forgotten past MAX_KEYS), so a flood from
many addresses cannot grow them without bound.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import TYPE_CHECKING, NamedTuple

from gateway.accounts.shared_limits import BucketFile, SharedLimiter

if TYPE_CHECKING:
    from gateway.settings import Settings

MAX_KEYS = 10_000
LIMITERS = 5  # Throttle's limiters: the tables of a shared file
NETWORK_V4, CLIENT_V6, NETWORK_V6 = 24, 64, 48  # prefix lengths


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

    def spend(self, key: Hashable, now: float) -> float:
        """Take a token: 0 when there was one, else the seconds until there is one (an
        empty bucket stays empty while it keeps being spent)."""
        wait = self.wait(key, now)
        self.take(key, now)
        return wait

    def take_if_free(self, key: Hashable, now: float) -> float:
        """Take a token only when there is one: 0 when taken, else the seconds to wait."""
        wait = self.wait(key, now)
        if not wait:
            self.take(key, now)
        return wait


class Client(NamedTuple):
    """Who a request is counted as: ``address`` (an IPv4 address, an IPv6 /64) and the
    ``network`` around it (an IPv4 /24, an IPv6 /48)."""

    address: str
    network: str


@functools.lru_cache(maxsize=4096)
def client_key(host: str | None) -> Client:
    """The client a request comes from, by its peer address (the proxy's forwarded one when
    the proxy is trusted). An IPv4 address in IPv6 clothing (``::ffff:192.0.2.1``, from a
    dual-stack socket) is that IPv4 client; a host that is no address is its own key."""
    if not host:
        return Client("-", "-")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return Client(host, host)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv4Address):
        return Client(str(address), _prefix(address, NETWORK_V4))
    return Client(_prefix(address, CLIENT_V6), _prefix(address, NETWORK_V6))


def _prefix(address: ipaddress.IPv4Address | ipaddress.IPv6Address, length: int) -> str:
    return str(ipaddress.ip_network(f"{address}/{length}", strict=False))


def retry_after(wait: float) -> int:
    return max(1, math.ceil(wait))


def make_shared(path: str) -> None:
    """The file serve's workers share their buckets in (Throttle with limits_file)."""
    BucketFile.create(path, LIMITERS)


class Throttle:
    """The gateway's limits (``[gateway]`` auth_failures_per_client, ..._per_network,
    ..._per_provider, token_requests_per_client, ..._per_provider). ``target`` is what a
    request named: the provider id of its URL (known or not), or the admin API."""

    def __init__(self, settings: Settings) -> None:
        limits = (settings.auth_failures_per_client, settings.auth_failures_per_network,
                  settings.auth_failures_per_provider, settings.token_requests_per_client,
                  settings.token_requests_per_provider)
        limiters: list[Limiter | SharedLimiter]
        if settings.limits_file:  # serve's workers: one set of buckets for all of them
            shared = BucketFile(settings.limits_file, LIMITERS)
            limiters = [SharedLimiter(shared, i, limit) for i, limit in enumerate(limits)]
        else:
            limiters = [Limiter(limit) for limit in limits]
        (self.client_failures, self.network_failures, self.target_failures,
         self.client_tokens, self.provider_tokens) = limiters

    def own_wait(self, client: Client) -> float:
        """Seconds this client must wait because of its own failures (0: go)."""
        return self.client_failures.wait(client.address, time.monotonic())

    def failed(self, target: str, client: Client) -> float:
        """Count a failed authentication against the client, its network and the target.
        Seconds to wait when one of them had no failure left (answer 429), else 0 (401)."""
        now = time.monotonic()
        return max(self.client_failures.spend(client.address, now),
                   self.network_failures.spend(client.network, now),
                   self.target_failures.spend(target, now))

    def token_request(self, client: Client) -> float:
        """Count a token request from the client, whatever its outcome; seconds to wait when
        it is over its limit (0: go)."""
        return self.client_tokens.take_if_free(client.address, time.monotonic())

    def token_issue(self, provider_id: str) -> float:
        """Count a token about to be issued to the provider's authenticated client; seconds
        to wait when the provider is over its limit (0: issue it)."""
        return self.provider_tokens.take_if_free(provider_id, time.monotonic())
