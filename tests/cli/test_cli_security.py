"""`identity-gateway auth-failures` and `identity-gateway secrets`, as an admin runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from cryptography.fernet import Fernet

from gateway.testing import cli, running

pytestmark = pytest.mark.anyio

EXE = Path(sys.executable).parent / "identity-gateway"


async def test_auth_failures_by_provider(database):
    async with running(database) as gateway:
        idp = await gateway.provider("entra-prod")
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Bearer no"}):
            r = await gateway.client.get(f"{idp.base}/Users", headers=headers)
            assert r.status_code == 401
    # The counts held in memory were written when the app stopped.
    # The harness's clock stands at 2026-01-01: look back far enough.
    back = ("--since", "800d")
    out = await anyio.to_thread.run_sync(lambda: cli("auth-failures", "entra-prod", *back,
                                                     database=database))
    assert out.returncode == 0, out.stderr
    first, *rows = out.stdout.splitlines()
    assert first.endswith("no_credential 1, unknown_credential 2"), first
    assert sorted(row.split("\t")[1:] for row in rows) == [["no_credential", "1"],
                                                          ["unknown_credential", "2"]]
    everything = await anyio.to_thread.run_sync(lambda: cli("auth-failures", "--json", *back,
                                                            database=database))
    assert '"unknown_credential": 2' in everything.stdout
    missing = await anyio.to_thread.run_sync(lambda: cli("auth-failures", "nope",
                                                         database=database))
    assert missing.returncode != 0 and "no provider 'nope'" in missing.stderr


def test_new_key_is_a_fernet_key():
    out = subprocess.run([str(EXE), "secrets", "new-key"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0
    Fernet(out.stdout.strip().encode())  # raises if it is not one
