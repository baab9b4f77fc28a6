"""Who a request is counted as: a client (an IPv4 address, an IPv6 /64) and its network (the
IPv4 /24, the IPv6 /48 around it)."""

from __future__ import annotations

import pytest

from gateway.accounts.throttle import Client, Throttle, client_key
from gateway.settings import Settings


@pytest.mark.parametrize(("host", "client"), [
    ("192.0.2.7", Client("192.0.2.7", "192.0.2.0/24")),
    ("::ffff:192.0.2.7", Client("192.0.2.7", "192.0.2.0/24")),  # a dual-stack socket's
    ("2001:db8:7:1::1", Client("2001:db8:7:1::/64", "2001:db8:7::/48")),
    ("2001:0DB8:0007:0001:ffff:0:0:9", Client("2001:db8:7:1::/64", "2001:db8:7::/48")),
    ("::1", Client("::/64", "::/48")),
    (None, Client("-", "-")),
    ("", Client("-", "-")),
    ("testclient", Client("testclient", "testclient")),  # no address: its own key
])
def test_client_keys(host, client):
    assert client_key(host) == client


def test_a_network_limit_refuses_failures_not_the_clients_in_it():
    throttle = Throttle(Settings(auth_failures_per_client=3, auth_failures_per_network=4,
                                 auth_failures_per_provider=100))
    hosts = [client_key(f"2001:db8:7:{n}::1") for n in range(1, 4)]
    waits = [throttle.failed("p", hosts[0]) for _ in range(3)]
    waits += [throttle.failed("p", hosts[1]) for _ in range(2)]
    assert [bool(w) for w in waits] == [False] * 4 + [True]
    assert throttle.own_wait(hosts[0]) > 0  # its own three failures
    assert throttle.own_wait(hosts[1]) == throttle.own_wait(hosts[2]) == 0
    assert throttle.failed("p", hosts[2]) > 0  # the /48's limit is reached
    assert throttle.failed("p", client_key("2001:db8:8::1")) == 0  # another /48
