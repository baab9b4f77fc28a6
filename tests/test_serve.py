"""`identity-gateway serve` as a real process on a free loopback port, driven over HTTP."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

LINE = re.compile(r"^SCIM base URL: (http://127\.0\.0\.1:\d+/scim/v2/\S+)$")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(database: Path, port: int) -> subprocess.Popen:
    exe = Path(sys.executable).parent / "identity-gateway"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [str(exe), "serve", "--migrate", "--host", "127.0.0.1", "--port", str(port),
         "--database", str(database), "--config", os.devnull, "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )


def read_lines(proc: subprocess.Popen, count: int, timeout: float = 30.0) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout
    while len(lines) < count and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
    return lines


def wait_ready(base: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(base.split("/scim/")[0] + "/healthz", timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the gateway did not start listening")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


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
    output = proc.stdout.read()
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
