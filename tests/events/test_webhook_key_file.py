"""Webhooks on the first start: with no key in the environment, `serve` makes an owner-only
key file outside the database's folder, says where once, seals webhook secrets with it and
reads it again at the next start; a copy of the database's folder holds no key. The key file
rotates with `secrets new-key --add` and `rekey`, and a file other users may read, or one
inside the database's folder, is refused in one line."""

from __future__ import annotations

import base64
import os
import shutil
import sqlite3
import stat
import subprocess
import threading
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from serving import EXE, free_port, read_lines, rest_of_output, start, stop, wait_ready
from webhook_receiver import LOOPBACK, Receiver

from gateway.settings import KEYS_VARIABLE
from gateway.testing import scim_user

pytestmark = pytest.mark.anyio

SECRET = "a-shared-secret-of-some-length"
CONFIG = f"""
[gateway]
webhook_allow_networks = {LOOPBACK!r}
webhook_poll_interval = 0.1
"""
KEY_LINE = "Webhook secret key file"


def without_keys(home: Path) -> dict[str, str]:
    """The environment of a first `make run`: no key variable (tests/conftest.py sets one for
    every other test), a home folder of its own."""
    home.mkdir(exist_ok=True)
    return {KEYS_VARIABLE: "", "XDG_CONFIG_HOME": "", "HOME": str(home)}


def key_file_of(home: Path) -> Path:
    return home / ".config" / "identity-gateway" / "secret-keys"


def keys_in(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def printed(proc: subprocess.Popen, count: int) -> dict[str, str]:
    lines = read_lines(proc, count)
    assert len(lines) == count, lines
    return dict(line.split(": ", 1) for line in lines)


def cli(*args: str, database: Path, env: dict[str, str],
        config: str | os.PathLike = os.devnull) -> subprocess.CompletedProcess:
    return subprocess.run([str(EXE), *args, "--database", str(database), "--config",
                           str(config)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})


def one_line_error(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
    for word in words:
        assert word in done.stderr, done.stderr


def backup_holds_no_key(data: Path, backup: Path, key: str) -> None:
    """A copy of the database's folder: its secret is sealed, and neither the key (as
    written or as bytes) nor the secret is anywhere in it."""
    shutil.copytree(data, backup)
    for copied in (p for p in backup.rglob("*") if p.is_file()):
        content = copied.read_bytes()
        for secret in (key.encode(), base64.urlsafe_b64decode(key), SECRET.encode()):
            assert secret not in content, copied.name
    with sqlite3.connect(backup / "gw.db") as conn:
        (sealed,) = conn.execute("SELECT secret FROM webhooks").fetchone()
    assert Fernet(key.encode()).decrypt(sealed.removeprefix("fernet:").encode()) \
        == SECRET.encode()


async def test_the_first_start_makes_a_key_file_webhooks_use_and_the_next_start_reads(
        tmp_path):
    env = without_keys(tmp_path / "home")
    key_file = key_file_of(tmp_path / "home")
    config = tmp_path / "identity-gateway.toml"
    config.write_text(CONFIG)
    data = tmp_path / "data"  # the database's folder: what a backup copies
    data.mkdir()
    database = data / "gw.db"
    with Receiver(SECRET) as receiver:
        port = free_port()
        proc = start(database, port, config, env=env)
        try:
            first = printed(proc, 6)
            assert first[KEY_LINE].startswith(f"{key_file} ("), first
            wait_ready(first["SCIM base URL"])
            admin = {"Authorization": f"Bearer {first['Admin token']}"}
            async with httpx.AsyncClient(timeout=30) as client:
                r = await client.post(f"http://127.0.0.1:{port}/admin/v1/webhooks",
                                      headers=admin, json={"url": receiver.url,
                                                           "secret": SECRET})
            assert r.status_code == 201, r.text
        finally:
            stop(proc)
        assert "Traceback" not in rest_of_output(proc)

        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
        assert not key_file.resolve().is_relative_to(data.resolve())
        (key,) = keys_in(key_file)
        made = key_file.read_text()

        backup_holds_no_key(data, tmp_path / "backup", key)

        port = free_port()
        proc = start(database, port, config, env=env)
        try:
            later = read_lines(proc, 3)
            assert later[-1].startswith("Console URL: "), later
            wait_ready(f"http://127.0.0.1:{port}/scim/v2/x")
            provider = first["SCIM base URL"].rsplit("/", 1)[1]
            async with httpx.AsyncClient(timeout=30) as client:
                r = await client.post(
                    f"http://127.0.0.1:{port}/scim/v2/{provider}/Users", json=scim_user(),
                    headers={"Authorization": f"Bearer {first['Bearer token']}",
                             "Content-Type": "application/scim+json"})
            assert r.status_code == 201, r.text
            await receiver.wait_for(1)
        finally:
            stop(proc)
        assert KEY_LINE not in "\n".join(later) + rest_of_output(proc)
    assert receiver.requests and all(r["valid"] for r in receiver.requests)
    assert key_file.read_text() == made  # read, not made again


def test_two_first_starts_at_once_share_one_key(tmp_path):
    """Two gateways of one account starting together (two databases, one home): the key
    file is made once, whole, and the key each one seals with is the one it holds."""
    env = without_keys(tmp_path / "home")
    procs: dict[str, tuple[subprocess.Popen, int]] = {}
    go = threading.Barrier(2)

    def launch(name: str) -> None:
        port = free_port()
        go.wait()
        procs[name] = (start(tmp_path / name / "gw.db", port, env=env), port)

    threads = [threading.Thread(target=launch, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        for proc, port in procs.values():
            values = printed(proc, 5)  # the key file line: one of them, or both
            wait_ready(values["SCIM base URL"])
            r = httpx.post(f"http://127.0.0.1:{port}/admin/v1/webhooks", timeout=30,
                           headers={"Authorization": f"Bearer {values['Admin token']}"},
                           json={"url": "https://hooks.example.com/h", "secret": SECRET})
            assert r.status_code == 201, r.text
    finally:
        for proc, _ in procs.values():
            stop(proc)
    (key,) = keys_in(key_file_of(tmp_path / "home"))
    for name in ("a", "b"):
        with sqlite3.connect(tmp_path / name / "gw.db") as conn:
            (sealed,) = conn.execute("SELECT secret FROM webhooks").fetchone()
        assert Fernet(key.encode()).decrypt(sealed.removeprefix("fernet:").encode()) \
            == SECRET.encode(), name


def test_the_environment_variable_wins_over_the_key_file(tmp_path):
    env = without_keys(tmp_path / "home")
    database = tmp_path / "data" / "gw.db"
    assert cli("migrate", database=database, env=env).returncode == 0
    assert cli("secrets", "new-key", "--add", database=database, env=env).returncode == 0
    from_env = Fernet.generate_key().decode()
    made = cli("webhook", "add", "https://hooks.example.com/h", "--secret", SECRET,
               database=database, env={**env, KEYS_VARIABLE: from_env})
    assert made.returncode == 0, made.stderr
    with sqlite3.connect(database) as conn:
        (sealed,) = conn.execute("SELECT secret FROM webhooks").fetchone()
    assert Fernet(from_env.encode()).decrypt(sealed.removeprefix("fernet:").encode()) \
        == SECRET.encode()
    # The keys come from the environment: the file is not theirs to change.
    one_line_error(cli("secrets", "new-key", "--add", database=database,
                       env={**env, KEYS_VARIABLE: from_env}), KEYS_VARIABLE, "not from a key file")


def test_a_key_file_others_may_read_is_refused_in_one_line(tmp_path):
    env = without_keys(tmp_path / "home")
    database = tmp_path / "data" / "gw.db"
    assert cli("migrate", database=database, env=env).returncode == 0
    assert cli("secrets", "new-key", "--add", database=database, env=env).returncode == 0
    key_file = key_file_of(tmp_path / "home")
    for mode in (0o644, 0o604, 0o640, 0o620):
        key_file.chmod(mode)
        refused = cli("webhook", "list", database=database, env=env)
        one_line_error(refused, str(key_file), f"{mode:04o}", "chmod 600")
    key_file.chmod(0o400)
    assert cli("webhook", "list", database=database, env=env).returncode == 0


def test_a_key_file_in_the_database_s_folder_is_refused_in_one_line(tmp_path):
    env = without_keys(tmp_path / "home")
    data = tmp_path / "data"
    config = tmp_path / "identity-gateway.toml"
    for inside in (data / "secret-keys", data / "keys" / "secret-keys"):
        config.write_text(f'[gateway]\nsecret_keys_file = "{inside}"\n')
        refused = cli("migrate", database=data / "gw.db", env=env, config=config)
        one_line_error(refused, "secret_keys_file", "inside the database's folder")
        port = free_port()
        proc = start(data / "gw.db", port, config, env=env)
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:  # it served instead of stopping: the test fails
                stop(proc)
        assert proc.returncode != 0
        assert "inside the database's folder" in rest_of_output(proc)
        assert not inside.exists()
    # The default location, when the database sits in the home folder itself.
    home_db = tmp_path / "home" / "gw.db"
    one_line_error(cli("migrate", database=home_db, env=env), "(the default)",
                   "inside the database's folder")


def test_keys_in_the_file_rotate(tmp_path):
    """The documented steps: a new key first in the file, a restart, rekey, then the old key
    removed; the secrets read with the new key alone."""
    env = without_keys(tmp_path / "home")
    key_file = key_file_of(tmp_path / "home")
    database = tmp_path / "data" / "gw.db"
    proc = start(database, free_port(), env=env)
    try:
        assert KEY_LINE in printed(proc, 6)
    finally:
        stop(proc)
    made = cli("webhook", "add", "https://hooks.example.com/h", "--secret", SECRET,
               database=database, env=env)
    assert made.returncode == 0, made.stderr
    (old,) = keys_in(key_file)

    added = cli("secrets", "new-key", "--add", database=database, env=env)
    assert added.returncode == 0, added.stderr
    assert str(key_file) in added.stdout and "secrets rekey" in added.stdout
    new, kept = keys_in(key_file)
    assert kept == old and new != old
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    rekeyed = cli("secrets", "rekey", database=database, env=env)
    assert rekeyed.returncode == 0, rekeyed.stderr
    assert f"re-encrypted 1 webhook secret(s) with the first key of {key_file}" \
        in rekeyed.stdout
    key_file.write_text(key_file.read_text().replace(f"{old}\n", ""))
    assert keys_in(key_file) == [new]
    with sqlite3.connect(database) as conn:
        (sealed,) = conn.execute("SELECT secret FROM webhooks").fetchone()
    assert Fernet(new.encode()).decrypt(sealed.removeprefix("fernet:").encode()) \
        == SECRET.encode()
    port = free_port()
    proc = start(database, port, env=env)
    try:
        assert "Console URL" in printed(proc, 3)
        wait_ready(f"http://127.0.0.1:{port}/scim/v2/x")
    finally:
        stop(proc)
    assert "Traceback" not in rest_of_output(proc)


def test_with_no_key_file_setting_nothing_is_made_and_a_webhook_is_refused(tmp_path):
    env = without_keys(tmp_path / "home")
    config = tmp_path / "identity-gateway.toml"
    config.write_text('[gateway]\nsecret_keys_file = ""\n')
    database = tmp_path / "data" / "gw.db"
    assert cli("migrate", database=database, env=env, config=config).returncode == 0
    refused = cli("webhook", "add", "https://hooks.example.com/h", database=database, env=env,
                  config=config)
    one_line_error(refused, KEYS_VARIABLE)
    assert not (tmp_path / "home" / ".config").exists()
