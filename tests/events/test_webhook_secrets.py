"""Webhook signing secrets are encrypted at rest: a copy of the database does not hold them,
deliveries are still signed with them, keys rotate, and a gateway without a key says so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from cryptography.fernet import Fernet
from serving import free_port, launch, rest_of_output
from webhook_receiver import LOOPBACK, Receiver

from gateway.settings import KEYS_VARIABLE
from gateway.testing import eventually, running
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

SECRET = "a-shared-secret-of-some-length"
FAST = dict(webhook_poll_interval=0.05, webhook_backoff=0.05, webhook_backoff_max=0.2,
            webhook_timeout=2.0, webhook_allow_networks=LOOPBACK)
EXE = Path(sys.executable).parent / "identity-gateway"


async def stored_secrets(gateway) -> list[str]:
    async with gateway.gw.store.read() as conn:
        return [r["secret"] for r in await conn.fetchall("SELECT secret FROM webhooks")]


async def test_the_database_holds_no_usable_secret_and_deliveries_are_signed(database):
    key = Fernet.generate_key().decode()
    with Receiver(SECRET) as receiver:
        async with running(database, secret_keys=[key], **FAST) as gateway:
            r = await gateway.admin_api("POST", "/webhooks",
                                        {"url": receiver.url, "secret": SECRET})
            assert r.status_code == 201, r.text
            generated = (await gateway.admin_api("POST", "/webhooks", {
                "url": receiver.url + "2", "events": ["group.created"]})).json()["secret"]
            stored = await stored_secrets(gateway)
            assert len(stored) == 2
            for value in stored:
                assert SECRET not in value and generated not in value
                assert value.startswith("fernet:")
            idp = await gateway.provider()
            await gateway.scim(idp, "POST", "/Users", user_body())
            await receiver.wait_for(1)
    assert receiver.requests and all(r["valid"] for r in receiver.requests)


async def test_keys_rotate_and_rekey_reencrypts(database):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with Receiver(SECRET) as receiver:
        async with running(database, secret_keys=[old], webhook_allow_networks=LOOPBACK) \
                as gateway:
            await gateway.admin_api("POST", "/webhooks", {"url": receiver.url, "secret": SECRET})
            before = await stored_secrets(gateway)
        # The new key first, the old one still listed: everything still reads.
        async with running(database, secret_keys=[new, old]) as gateway:
            assert await stored_secrets(gateway) == before
        rekeyed = await anyio.to_thread.run_sync(lambda: subprocess.run(
            [str(EXE), "secrets", "rekey", "--database", database, "--config", os.devnull],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, KEYS_VARIABLE: f"{new},{old}"}))
        assert rekeyed.returncode == 0, rekeyed.stderr
        assert "re-encrypted 1 webhook secret" in rekeyed.stdout
        # Now the new key alone reads them, and deliveries are signed with the same secret.
        async with running(database, secret_keys=[new], **FAST) as gateway:
            after = await stored_secrets(gateway)
            assert after != before and Fernet(new.encode()).decrypt(
                after[0].removeprefix("fernet:").encode()).decode() == SECRET
            idp = await gateway.provider()
            await gateway.scim(idp, "POST", "/Users", user_body())
            await receiver.wait_for(1)
        assert all(r["valid"] for r in receiver.requests)
        # The old key alone no longer can: startup stops and says why.
        with pytest.raises(Exception, match="cannot be decrypted"):
            async with running(database, secret_keys=[old]):
                pass


async def test_secrets_stored_in_plain_text_are_sealed_at_startup(database):
    async with running(database) as gateway:
        async with gateway.gw.store.write() as conn:  # as an earlier version stored it
            await conn.execute("INSERT INTO webhooks VALUES ('w1', 'http://127.0.0.1:9/h', ?,"
                               " '[\"*\"]', 0, 'now')", (SECRET,))
    async with running(database) as gateway:
        (stored,) = await stored_secrets(gateway)
        assert stored.startswith("fernet:") and SECRET not in stored


async def test_creating_a_webhook_without_a_key_is_refused_clearly(database):
    async with running(database, secret_keys=[], webhook_allow_networks=LOOPBACK) as gateway:
        r = await gateway.admin_api("POST", "/webhooks", {"url": "http://127.0.0.1:9/h"})
        assert r.status_code == 409
        assert KEYS_VARIABLE in r.json()["detail"]
        assert await stored_secrets(gateway) == []


def test_serve_without_a_key_stops_with_one_clear_line(tmp_path):
    database = str(tmp_path / "data" / "gw.db")
    options = ["--database", database, "--config", os.devnull]
    subprocess.run([str(EXE), "migrate", *options], check=True, capture_output=True,
                   timeout=60)
    made = subprocess.run([str(EXE), "webhook", "add", "https://hooks.example.com/h", *options],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, KEYS_VARIABLE: Fernet.generate_key().decode()})
    assert made.returncode == 0, made.stderr
    # No key in the environment, and a home folder whose key file the start must not make:
    # the database's webhooks were sealed with another key.
    home = tmp_path / "home"
    proc = launch(["serve", "--migrate", "--port", str(free_port()), "--database", database,
                   "--config", os.devnull],
                  env={KEYS_VARIABLE: "", "XDG_CONFIG_HOME": "", "HOME": str(home)})
    try:
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:  # it served instead of stopping: end it, the test fails
            proc.kill()
            proc.wait()
    output = rest_of_output(proc)
    assert proc.returncode != 0
    assert KEYS_VARIABLE in output and "webhook" in output
    assert "Traceback" not in output
    assert not home.exists()


async def test_the_harness_key_is_stable_across_restarts(database):
    async with running(database, webhook_allow_networks=LOOPBACK) as gateway:
        await gateway.admin_api("POST", "/webhooks", {"url": "http://127.0.0.1:9/h"})
    async with running(database) as gateway:
        assert await eventually(lambda: stored_secrets(gateway))
