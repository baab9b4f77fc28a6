"""A SQLite database file deleted or replaced under a real `serve`: the connections still hold
the old file, so writes would succeed into a file nobody will open again and be lost at the
next start. They are refused (503) instead, and /readyz says why."""

from __future__ import annotations

import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from serving import LINE, free_port, read_lines, start, stop, wait_ready

from gateway.testing import scim_user


def replace_with_another(database) -> None:
    other = database.with_name("other.db")
    sqlite3.connect(other).close()
    os.replace(other, database)


@pytest.mark.parametrize(("change", "said"), [
    (os.unlink, "the database file was deleted under the running gateway"),
    (replace_with_another, "the database file was replaced under the running gateway"),
])
def test_writes_into_a_deleted_or_replaced_file_are_refused(tmp_path, change, said):
    database, port = tmp_path / "gw.db", free_port()
    proc = start(database, port)
    try:
        lines = read_lines(proc, 2)
        base, token = LINE.match(lines[0]).group(1), lines[1].split(": ", 1)[1]
        root = base.split("/scim/")[0]
        wait_ready(base)
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.post(f"{base}/Users", headers=auth, json=scim_user("kept@example.com"),
                          timeout=30).status_code == 201

        change(database)

        def create(i: int) -> httpx.Response:
            return httpx.post(f"{base}/Users", headers=auth, timeout=30,
                              json=scim_user(f"lost{i}@example.com"))

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(create, range(24)))
        assert [r.status_code for r in answers] == [503] * 24  # none acknowledged
        assert answers[0].json()["status"] == "503"
        assert answers[0].headers["retry-after"] == "10"
        ready = httpx.get(f"{root}/readyz", timeout=30)
        assert ready.status_code == 503
        assert ready.json()["reasons"][0].startswith(said)
        # Reads go on from the file the gateway holds.
        found = httpx.get(f"{base}/Users", headers=auth, timeout=30)
        assert found.status_code == 200 and found.json()["totalResults"] == 1
    finally:
        stop(proc)
