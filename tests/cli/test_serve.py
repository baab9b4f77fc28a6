"""`identity-gateway serve` as a real process on a free loopback port, driven over HTTP."""

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from serving import LINE, free_port, read_lines, rest_of_output, start, stop, wait_ready


def test_first_start_prints_credentials_and_serves(tmp_path):
    database, port = tmp_path / "gw.db", free_port()
    proc = start(database, port)
    try:
        lines = read_lines(proc, 3)
        assert LINE.match(lines[0]), lines
        assert re.match(r"^Bearer token: \S{43,}$", lines[1]), lines
        assert re.match(r"^Admin token: \S{43,}$", lines[2]), lines
        base = LINE.match(lines[0]).group(1)
        token = lines[1].split(": ", 1)[1]
        wait_ready(base)
        auth = {"Authorization": f"Bearer {token}"}
        created = httpx.post(f"{base}/Users", headers=auth, timeout=10, json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "real@example.com"})
        assert created.status_code == 201, created.text
        found = httpx.get(f"{base}/Users", params={"filter": 'userName eq "real@example.com"'},
                          headers=auth, timeout=10).json()
        assert found["totalResults"] == 1
        assert httpx.get(f"{base}/Users", timeout=10).status_code == 401
    finally:
        stop(proc)
    output = rest_of_output(proc)
    assert token not in output  # never logged after it was shown

    # A later start shows the base URL again but no stored secret.
    proc = start(database, port)
    try:
        lines = read_lines(proc, 2)
        assert lines[0].startswith(f"SCIM base URL: {base}")
        assert "rotate" in lines[1]
        assert all("token:" not in line.lower() for line in lines)
    finally:
        stop(proc)


def test_the_listening_socket_lets_asyncio_set_tcp_nodelay():
    """asyncio sets TCP_NODELAY only on connections accepted from an IPPROTO_TCP socket;
    without it every answer on a kept-alive connection waits ~40 ms for a delayed ACK."""
    import socket

    from gateway.cli.serve import listen

    sock = listen("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP and sock.type == socket.SOCK_STREAM
    finally:
        sock.close()



@contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """`path` (the database file or its folder) read-only for this user: its mode, or for
    root, whom modes do not stop, the immutable attribute (where the file system and the
    process's capabilities allow it)."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    if shutil.which("chattr") is None or subprocess.run(
            ["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("running as root, and `chattr +i` is not available here (no chattr, no "
                    "CAP_LINUX_IMMUTABLE, or a file system without it): nothing else makes a "
                    "file read-only for root without a read-only mount")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.mark.parametrize("which", ["file", "folder"])
def test_serve_refuses_a_database_it_cannot_write_in_one_line(tmp_path, which):
    folder = tmp_path / "data"
    database = folder / "gw.db"
    proc = start(database, free_port())  # the first start
    try:
        assert LINE.match(read_lines(proc, 1)[0])
    finally:
        stop(proc)
    with unwritable(database if which == "file" else folder):
        proc = start(database, free_port())
        try:
            assert proc.wait(60) == 2
        finally:
            stop(proc)
    lines = rest_of_output(proc).splitlines()
    assert len(lines) == 1, lines
    assert re.match(f"identity-gateway: (the|cannot open the) SQLite database '{database}'",
                    lines[0]), lines
    assert "needs write access to the file and to its folder" in lines[0], lines
