"""A provider's connection state from the command line, on the database a gateway wrote:
`provider list` has a STATE column, `provider connection NAME` says it in words (the IdP's
own test by name, the reasons of refusals) and `provider show` has it in its JSON."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import anyio
import pytest

from gateway.testing import running

pytestmark = pytest.mark.anyio

EXE = Path(sys.executable).parent / "identity-gateway"
CONFIG = '[plugins]\nenabled = ["entra", "okta"]\n'


async def test_provider_list_connection_and_show_say_the_connection_state(database,
                                                                         tmp_path):
    async with running(database, enabled=["entra", "okta"]) as gateway:
        entra = await gateway.provider("Entra production", plugin="entra")
        wrong = await gateway.provider("Okta", auth="basic", plugin="okta")
        await gateway.provider("Later")
        gateway.clock.advance(seconds=5)
        lookup = "/Users?filter=" + quote(f'userName eq "{uuid.uuid4()}"', safe="")
        assert (await gateway.scim(entra, "GET", lookup)).status_code == 200
        assert (await gateway.scim(wrong, "GET", "/Users", headers={
            "Authorization": "Basic bm8tb25lOndyb25n"})).status_code == 401
    # What the gateway held in memory was written when it stopped.
    config = tmp_path / "cli.toml"
    config.write_text(CONFIG)

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(EXE), *args, "--database", str(database), "--config",
                               str(config)], capture_output=True, text=True, timeout=60)

    listed = await anyio.to_thread.run_sync(cli, "provider", "list")
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    columns = header.split("\t")
    states = {row.split("\t")[0]: row.split("\t")[columns.index("STATE")] for row in rows}
    assert states == {"Entra production": "connected", "Okta": "refused", "Later": "waiting"}

    said = await anyio.to_thread.run_sync(cli, "provider", "connection", "entra production")
    assert said.returncode == 0, said.stderr
    assert said.stdout.startswith("Connected: A lookup of a user by userName: what Entra's "
                                  "Test Connection sends")
    assert "answered 200" in said.stdout
    refused = await anyio.to_thread.run_sync(cli, "provider", "connection", "Okta")
    assert refused.stdout.startswith("Refused: 1 request arrived since the current credential "
                                     "was issued")
    assert "Why: the secret is not this provider's current one" in refused.stdout
    waiting = await anyio.to_thread.run_sync(cli, "provider", "connection", "later")
    assert waiting.stdout.startswith("Waiting: no request has arrived")

    as_json = await anyio.to_thread.run_sync(cli, "provider", "connection", "Okta", "--json")
    found = json.loads(as_json.stdout)
    assert found["state"] == "refused" and found["refused"]["reasons"] == {
        "unknown_credential": 1}
    shown = json.loads((await anyio.to_thread.run_sync(cli, "provider", "show", "Okta")).stdout)
    assert shown["connection"] == found

    unknown = await anyio.to_thread.run_sync(cli, "provider", "connection", "nope")
    assert unknown.returncode == 2 and "no provider 'nope'" in unknown.stderr
    assert unknown.stdout == ""
