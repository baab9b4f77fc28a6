"""The app's lifespan: the store is closed however the app stops, so a failure never leaves
the process hanging on the store's threads."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from serving import free_port, launch, read_lines

FAILING_TEST = textwrap.dedent("""
    import sys, anyio
    from gateway.testing import running

    async def main():
        async with running(sys.argv[1]) as gateway:
            await gateway.provider()
            raise RuntimeError("a failing test")

    anyio.run(main)
""")


def test_a_failure_inside_the_app_ends_the_process(tmp_path):
    """Before, the SQLite store's reader threads outlived the lifespan and kept Python
    running forever after the error."""
    done = subprocess.run([sys.executable, "-c", FAILING_TEST, str(tmp_path / "gw.db")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "a failing test" in done.stderr


@pytest.mark.parametrize("case", ["pending migrations", "port taken"])
def test_serve_ends_when_startup_fails_after_the_store_opened(tmp_path, case):
    import socket

    database = tmp_path / "gw.db"
    port = free_port()
    args = ["serve", "--database", str(database), "--config", "/dev/null",
            "--port", str(port), "--host", "127.0.0.1"]
    with socket.socket() as taken:
        if case == "port taken":
            taken.bind(("127.0.0.1", port))
            taken.listen()
            args.append("--migrate")
        proc = launch(args)
        try:
            status = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
    output = "\n".join(read_lines(proc, 100, within=5))
    assert status != 0
    if case == "pending migrations":
        assert "unapplied migration" in output and "--migrate" in output
