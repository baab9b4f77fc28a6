"""Webhooks reach public addresses only: internal receivers are refused at registration in
every spelling, and again at delivery after the name is resolved; the operator allows
networks by name (webhook_allow_networks); recorded errors do not map the network."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from webhook_receiver import LOOPBACK, Receiver

from gateway.testing import eventually, running
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

SECRET = "a-shared-secret-of-some-length"
ALLOWANCE = "webhook_allow_networks"
NAMES = ("loopback", "internal name")  # what a name gives depends on the resolver's files

REFUSED = [
    # 127.0.0.1 in the spellings a resolver reads as it
    ("http://127.0.0.1/h", "loopback"), ("http://2130706433/h", "loopback"),
    ("http://0x7f000001/h", "loopback"), ("http://017700000001/h", "loopback"),
    ("http://0x7f.1/h", "loopback"), ("http://127.1/h", "loopback"),
    ("http://127.0.1/h", "loopback"), ("http://0x7f.0.0.1/h", "loopback"),
    ("http://127.255.255.254:8080/h", "loopback"),
    ("http://[::1]/h", "loopback"), ("http://[0:0:0:0:0:0:0:1]:9/h", "loopback"),
    ("http://[::ffff:127.0.0.1]/h", "loopback"), ("http://[::ffff:7f00:1]/h", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[fe80::1]/h", "link-local"),
    ("http://[2002:a9fe:a9fe::]/h", "link-local"),  # 6to4 around 169.254.169.254
    ("http://10.0.0.1/h", "private network"), ("http://172.16.0.1/h", "private network"),
    ("http://172.31.255.254/h", "private network"),
    ("http://192.168.1.1/h", "private network"),
    ("http://[64:ff9b::a00:1]/h", "private network"),  # NAT64 around 10.0.0.1
    ("http://100.64.0.1/h", "shared address space"),
    ("http://[fc00::1]/h", "unique-local"), ("http://[fd12:3456::1]/h", "unique-local"),
    ("http://224.0.0.1/h", "multicast"), ("http://[ff02::1]/h", "multicast"),
    ("http://0.0.0.0/h", "unspecified"), ("http://0.1.2.3/h", "unspecified"),
    ("http://[::]/h", "unspecified"), ("http://0/h", "unspecified"),
    ("http://[::ffff:8.8.8.8]/h", "IPv4-mapped"),
    ("http://240.0.0.1/h", "reserved"), ("http://255.255.255.255/h", "reserved"),
    ("http://192.0.2.10/h", "not a public address"),
    ("http://localhost:8080/h", NAMES), ("http://LOCALHOST./h", NAMES),
    ("http://hooks.localhost/h", NAMES), ("http://metadata/computeMetadata/v1/", NAMES),
    ("http://metadata.google.internal/computeMetadata/v1/", NAMES + ("link-local",)),
    ("https://printer.local/h", NAMES), ("https://intranet/h", NAMES),
]
# Spellings the URL parser the deliveries use refuses outright.
NOT_URLS = ["http://0177.0.0.1/h", "http://127.000.000.001/h", "http://①②⑦.0.0.1/h"]
ACCEPTED = ["https://8.8.8.8/hooks", "https://[2606:4700:4700::1111]:8443/hooks",
            "https://hooks.example.com/identity"]  # a name that may not resolve yet


async def hooks(gateway) -> list[dict]:
    return (await gateway.admin_api("GET", "/webhooks")).json()["items"]


async def refused(gateway, url: str, *words: str) -> str:
    r = await gateway.admin_api("POST", "/webhooks", {"url": url, "secret": SECRET})
    assert r.status_code == 400, (url, r.text)
    body = r.json()
    assert body["status"] == 400 and "schemas" not in body
    for word in words:
        assert word in body["detail"], (url, body["detail"])
    return body["detail"]


async def test_internal_receivers_are_refused_at_registration_in_every_spelling(database):
    async with running(database) as gateway:
        for url, why in REFUSED:
            detail = await refused(gateway, url, "may not reach", "webhook_allow_networks")
            reason = detail.split("(", 1)[1].split(")", 1)[0]
            assert reason in (why if isinstance(why, tuple) else (why,)), (url, detail)
        for url in NOT_URLS:
            await refused(gateway, url, "'url'")
        assert await hooks(gateway) == []  # nothing was stored
        for url in ACCEPTED:
            r = await gateway.admin_api("POST", "/webhooks", {"url": url, "secret": SECRET})
            assert r.status_code == 201, (url, r.text)
        assert sorted(h["url"] for h in await hooks(gateway)) == sorted(ACCEPTED)


async def test_credentials_in_the_url_are_refused_and_never_shown(database):
    async with running(database) as gateway:
        for url in ("https://alice:pw-in-the-url@hooks.example.com/h",
                    "https://alice@hooks.example.com/h"):
            detail = await refused(gateway, url, "credentials")
            assert "pw-in-the-url" not in detail and "alice" not in detail
        assert await hooks(gateway) == []
        async with gateway.gw.store.write() as conn:  # as an earlier version stored it
            await conn.execute("INSERT INTO webhooks VALUES ('w1', "
                               "'https://alice:pw-in-the-url@hooks.example.com/h', "
                               "'sixteen-chars-secret', '[\"*\"]', 0, 'now')")
        listed = await hooks(gateway)
        one = (await gateway.admin_api("GET", "/webhooks/w1")).json()
    assert listed[0]["url"] == one["url"] == "https://hooks.example.com/h"


async def test_a_listed_network_is_allowed_and_no_other(database):
    with Receiver(SECRET) as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        async with running(database, webhook_poll_interval=0.05,
                           **{ALLOWANCE: LOOPBACK}) as gateway:
            ids = []
            for url in (receiver.url, f"http://localhost:{port}/hook"):
                r = await gateway.admin_api("POST", "/webhooks", {"url": url, "secret": SECRET})
                assert r.status_code == 201, r.text
                ids.append(r.json()["id"])
            for url in ("http://10.0.0.1/h", "http://169.254.169.254/"):
                await refused(gateway, url, "may not reach")
            idp = await gateway.provider()
            await gateway.scim(idp, "POST", "/Users", user_body())
            await receiver.wait_for(2)
    # localhost too, whether it resolves to ::1 (nothing listens: next address) or not
    assert sorted(r["headers"]["X-Gateway-Webhook"] for r in receiver.requests) == sorted(ids)
    assert all(r["valid"] for r in receiver.requests)


async def failing(gateway, hook: str) -> dict:
    async def recorded() -> dict | None:
        return (await gateway.admin_api("GET", f"/webhooks/{hook}")).json()["failing"]

    return await eventually(recorded, what=f"webhook {hook} failed once")


async def test_delivery_checks_the_resolved_address_again(database):
    """Registered while loopback was allowed; the operator removed the allowance: the names
    are resolved again at delivery and nothing reaches the receiver."""
    with Receiver(SECRET) as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        urls = (receiver.url, f"http://localhost:{port}/hook")
        async with running(database, **{ALLOWANCE: LOOPBACK}) as gateway:
            ids = [(await gateway.admin_api("POST", "/webhooks", {
                "url": url, "secret": SECRET})).json()["id"] for url in urls]
        async with running(database, webhook_poll_interval=0.05, webhook_backoff=3600) \
                as gateway:
            idp = await gateway.provider()
            await gateway.scim(idp, "POST", "/Users", user_body())
            errors = [(await failing(gateway, hook))["last_error"] for hook in ids]
            views = [(await gateway.admin_api("GET", f"/webhooks/{hook}")).json()
                    for hook in ids]
    assert errors == ["the receiver's address is not allowed (loopback)"] * 2
    assert [v["pending"] for v in views] == [1, 1]
    assert receiver.requests == []


@contextmanager
def ports() -> Iterator[dict[str, str]]:
    """Three loopback ports a receiver might be at: nothing listening, listening but silent,
    and answering something other than HTTP."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel accepts connections; nobody reads them
    babbling = socket.socket()
    babbling.bind(("127.0.0.1", 0))
    babbling.listen(8)

    def babble() -> None:
        while True:
            try:
                conn, _ = babbling.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

    threading.Thread(target=babble, daemon=True).start()
    try:
        yield {name: f"http://127.0.0.1:{port}/hook" for name, port in (
            ("closed", closed_port), ("silent", silent.getsockname()[1]),
            ("babbling", babbling.getsockname()[1]))}
    finally:
        silent.close()
        babbling.close()


async def test_closed_silent_and_foreign_ports_read_the_same(database):
    with ports() as urls:
        async with running(database, webhook_poll_interval=0.05, webhook_backoff=3600,
                           webhook_timeout=1.0, **{ALLOWANCE: LOOPBACK}) as gateway:
            ids = {name: (await gateway.admin_api("POST", "/webhooks", {
                "url": url, "secret": SECRET})).json()["id"] for name, url in urls.items()}
            idp = await gateway.provider()
            await gateway.scim(idp, "POST", "/Users", user_body())
            errors = {name: (await failing(gateway, hook))["last_error"]
                      for name, hook in ids.items()}
    assert set(errors.values()) == {"could not connect, or no answer within 1s"}, errors
