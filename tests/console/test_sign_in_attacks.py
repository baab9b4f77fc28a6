"""Attacks on the console's sign-in, by real concurrent clients against a real
`identity-gateway serve`: a burst of guesses from one address, a stranger locking the owner
out, a flood of attempts against the process's memory, guessing spread over many
addresses, and one address trying many names.

Clients come from several loopback addresses (Linux routes all of 127/8 to loopback; the
gateway listens on 127.0.0.1), each its own browser with its own cookies."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from console_helpers import Served
from serving import free_port, read_lines, start, stop, wait_ready

from bench.cpu import descendants

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
LOCKOUT_AFTER = 5  # console_lockout_after
PER_CLIENT = 20  # console_sign_ins_per_client, a minute
MEMORY_BOUND = 400 * 1024 * 1024  # the target for 200 concurrent attempts


@contextmanager
def serving(database: str, folder: Path) -> Iterator[Served]:
    """`identity-gateway serve` with the default settings on `database`."""
    port = free_port()
    proc = start(database, port)
    try:
        lines = read_lines(proc, 5)
        values = dict(line.split(": ", 1) for line in lines if ": " in line)
        assert "Console password" in values, lines
        wait_ready(values["SCIM base URL"])
        yield Served(url=f"http://127.0.0.1:{port}", scim_base=values["SCIM base URL"],
                     bearer=values["Bearer token"], admin_token=values["Admin token"],
                     console_url=values["Console URL"], password=values["Console password"],
                     database=Path(database), config=folder / "none.toml", proc=proc)
    finally:
        stop(proc)


@pytest.fixture
def served_on(database: str, tmp_path: Path) -> Iterator[Served]:
    """A served gateway on each store (the counts are the store's)."""
    with serving(database, tmp_path) as served:
        yield served


def browser(served: Served, address: str = "127.0.0.1", keep_alive: bool = True
            ) -> httpx.Client:
    limits = httpx.Limits() if keep_alive else httpx.Limits(max_keepalive_connections=0)
    return httpx.Client(base_url=served.url, timeout=120, limits=limits,
                        transport=httpx.HTTPTransport(local_address=address, limits=limits))


def open_form(client: httpx.Client) -> str:
    """The sign-in form's CSRF token (its cookie is in the client)."""
    form = client.get("/console/sign-in")
    assert form.status_code == 200, form.text
    return TOKEN.search(form.text).group(1)


def post(client: httpx.Client, token: str, name: str, password: str) -> httpx.Response:
    return client.post("/console/sign-in", data={"username": name, "password": password,
                                                 "csrf_token": token})


def sign_in(served: Served, name: str, password: str,
            address: str = "127.0.0.1") -> httpx.Response:
    with browser(served, address) as client:
        return post(client, open_form(client), name, password)


def burst(served: Served, attempts: list[tuple[str, str, str]]) -> list[httpx.Response]:
    """Every (address, name, password) from a browser of its own, at once: each opens its
    form, then all post together."""
    gate = threading.Barrier(len(attempts))

    def attempt(address: str, name: str, password: str) -> httpx.Response:
        # A connection of its own for each request: waiting at the gate can outlast the
        # server's keep-alive (5 s) on a slow host, and a POST sent as the server closes
        # an idle connection is lost without an answer, as in any browser.
        with browser(served, address, keep_alive=False) as client:
            token = open_form(client)
            gate.wait()
            return post(client, token, name, password)

    with ThreadPoolExecutor(len(attempts)) as pool:
        return list(pool.map(lambda a: attempt(*a), attempts))


def refused(answer: httpx.Response, why: str) -> bool:
    """A 429 console page saying why and when to try again, with Retry-After."""
    return (answer.status_code == 429 and why in answer.text and "try again" in answer.text
            and int(answer.headers.get("retry-after", "0")) > 0)


def start_of_a_minute() -> None:
    """Wait, if need be, for a minute with most of its seconds ahead: the per-address count
    is per minute, and a test of it must not straddle two."""
    if time.time() % 60 > 30:
        time.sleep(60 - time.time() % 60)


def test_a_burst_of_guesses_from_one_address_counts_each_guess(served_on):
    answers = burst(served_on, [("127.0.0.1", "admin", f"wrong password {i}")
                                for i in range(30)])
    codes = [a.status_code for a in answers]
    assert set(codes) <= {401, 429}, codes
    assert codes.count(401) <= LOCKOUT_AFTER, codes  # no more passwords checked than that
    assert codes.count(429) >= 30 - LOCKOUT_AFTER
    assert all(refused(a, "Too many") for a in answers if a.status_code == 429)
    locked = sign_in(served_on, "admin", served_on.password)
    assert refused(locked, "Too many failed sign-ins for this name"), locked.text


def test_a_stranger_cannot_lock_the_owner_out(served_on):
    stranger = [sign_in(served_on, "admin", "wrong password!", "127.0.0.3")
                for _ in range(LOCKOUT_AFTER)]
    assert [a.status_code for a in stranger] == [401] * LOCKOUT_AFTER
    assert refused(sign_in(served_on, "admin", served_on.password, "127.0.0.3"),
                   "Too many failed sign-ins")
    with browser(served_on, "127.0.0.2") as owner:
        assert post(owner, open_form(owner), "admin", served_on.password).status_code == 303
        assert owner.get("/console/providers").status_code == 200


def test_one_address_cannot_have_passwords_checked_at_speed(served_on):
    start_of_a_minute()
    answers = burst(served_on, [("127.0.0.1", f"someone{i}", "wrong password!")
                                for i in range(30)])
    by_address = [a for a in answers if refused(a, "Too many sign-in attempts from your "
                                                   "address")]
    assert len(by_address) == 30 - PER_CLIENT  # counted one by one, whatever the name
    checked = [a for a in answers if a not in by_address]
    assert all(a.status_code == 401 or refused(a, "busy") for a in checked)
    assert refused(sign_in(served_on, "admin", served_on.password), "from your address")
    assert sign_in(served_on, "admin", served_on.password, "127.0.0.2").status_code == 303


def rss_peak(pid: int) -> int:
    """The peak resident memory so far of serve and its workers, added up, in bytes (each
    one's VmHWM)."""
    total = 0
    for member in [pid, *descendants(pid)]:
        status = Path(f"/proc/{member}/status").read_text()
        total += int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.M).group(1)) * 1024
    return total


def test_a_flood_of_sign_ins_keeps_memory_bounded_and_the_gateway_answering(served):
    addresses = [f"127.0.0.{i}" for i in range(2, 12)]
    attempts = [(address, f"nobody{i}", "wrong password!")
                for address in addresses for i in range(PER_CLIENT)]
    assert len(attempts) == 200
    health: list[tuple[int, float]] = []
    reads: list[int] = []
    done = threading.Event()

    def watch() -> None:
        with httpx.Client(base_url=served.url, timeout=30) as client, served.scim() as scim:
            while not done.is_set():
                began = time.monotonic()
                health.append((client.get("/healthz").status_code, time.monotonic() - began))
                reads.append(scim.get("/Users?count=1").status_code)
                time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        answers = burst(served, attempts)
    finally:
        done.set()
        watcher.join()
    assert {a.status_code for a in answers} <= {401, 429}
    assert descendants(served.proc.pid), "serve runs its workers"
    assert rss_peak(served.proc.pid) < MEMORY_BOUND
    assert health and all(code == 200 for code, _ in health)
    assert max(seconds for _, seconds in health) < 5.0  # a bound for a loaded machine
    assert reads and set(reads) == {200}


def test_guessing_from_many_addresses_is_slowed_but_the_owners_browser_gets_in(served):
    owner = browser(served, "127.0.0.2")
    assert post(owner, open_form(owner), "admin", served.password).status_code == 303
    # Twenty failures (console_name_slowdown_after), none from an address locked out.
    guesses = [sign_in(served, "admin", f"guess {i}", f"127.0.0.{10 + i % 5}")
               for i in range(20)]
    assert [g.status_code for g in guesses] == [401] * 20
    stranger = sign_in(served, "admin", served.password, "127.0.0.30")
    assert refused(stranger, "slowed down"), stranger.text
    assert int(stranger.headers["retry-after"]) <= 10  # console_name_slowdown
    # The browser that signed in before keeps its way in.
    assert post(owner, open_form(owner), "admin", served.password).status_code == 303
    owner.close()
    # Slowed, not locked: once the pause is over, the next check runs.
    time.sleep(int(stranger.headers["retry-after"]))
    assert sign_in(served, "admin", served.password, "127.0.0.31").status_code == 303
