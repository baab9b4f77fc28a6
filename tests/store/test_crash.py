"""kill -9 under concurrent writes, twice, on both stores: nothing acknowledged is lost
(tests/store/crash.py does the work; `make soak` runs many more rounds)."""

import random

import crash
import pytest


@pytest.fixture(params=["sqlite", "postgres"])
def crash_database(request, tmp_path) -> str:
    if request.param == "postgres":
        return request.getfixturevalue("postgres_database")
    return str(tmp_path / "gw.db")


def test_acknowledged_writes_survive_sigkill(crash_database):
    seed = random.randrange(1 << 30)
    result = crash.run(crash_database, rounds=2, seed=seed)
    assert result["rounds"] == 2 and result["created"] > 0, result
