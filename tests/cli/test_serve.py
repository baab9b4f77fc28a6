"""`identity-gateway serve` as a real process on a free loopback port, driven over HTTP."""

import re

import httpx
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
