"""Every trace in shared/idp-traces/ and tests/plugins/traces/ against a live gateway: a real
`identity-gateway serve` process on a loopback port, a fresh provider per trace file with the
trace's plugin and credential kind, every step over HTTP."""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from replay import load, mismatch, run

ROOT = Path(__file__).resolve().parents[2]
# The shared traces live beside the repository (shared/idp-traces); IDP_TRACES overrides.
SHARED = Path(os.environ.get("IDP_TRACES", ROOT.parent / "shared" / "idp-traces"))
OWN = Path(__file__).parent / "traces"
TRACES = sorted(SHARED.glob("*.json")) + sorted(OWN.glob("*.json"))
CREDENTIALS = {"entra": ["bearer", "oauth"], "okta": ["basic"]}
CASES = [pytest.param(path, kind, id=f"{path.parent.name}/{path.stem}-{kind}")
         for path in TRACES for kind in CREDENTIALS[load(path)["idp"]]]

sys.path.insert(0, str(ROOT / "tests"))
from serving import free_port, read_lines, start, stop, wait_ready  # noqa: E402


def test_the_shared_traces_are_there():
    """Replaying nothing must not pass: the shared traces are part of the contract."""
    assert len(list(SHARED.glob("*.json"))) >= 4, f"no IdP traces found in {SHARED}"


class Live:
    def __init__(self, url: str, admin_token: str) -> None:
        self.url = url
        self.client = httpx.Client(timeout=10)
        self.admin = {"Authorization": f"Bearer {admin_token}"}
        self.count = 0

    def provider(self, plugin: str, kind: str) -> tuple[str, dict]:
        """A fresh provider of this plugin; its base URL and the headers its IdP sends."""
        self.count += 1
        r = self.client.post(f"{self.url}/admin/v1/providers", headers=self.admin,
                             json={"name": f"{plugin}-{kind}-{self.count}", "auth": kind,
                                   "plugin": plugin})
        assert r.status_code == 201, r.text
        view, creds = r.json(), r.json()["credentials"]
        base = view["base_url"]
        if kind == "bearer":
            return base, {"Authorization": f"Bearer {creds['Bearer token']}"}
        if kind == "basic":
            pair = f"{creds['Username']}:{creds['Password']}".encode()
            return base, {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        token = self.client.post(f"{base}/oauth/token", data={
            "grant_type": "client_credentials", "client_id": creds["Client ID"],
            "client_secret": creds["Client secret"]})
        assert token.status_code == 200, token.text
        return base, {"Authorization": f"Bearer {token.json()['access_token']}"}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("live")
    config = folder / "gateway.toml"
    config.write_text('[plugins]\nenabled = ["entra", "okta"]\n')
    port = free_port()
    proc = start(folder / "gw.db", port, config)
    try:
        lines = read_lines(proc, 3)
        admin = next((ln.split(": ", 1)[1] for ln in lines if ln.startswith("Admin token:")),
                     None)
        assert admin, lines
        url = f"http://127.0.0.1:{port}"
        wait_ready(url + "/scim/v2/x")
        yield Live(url, admin)
    finally:
        stop(proc)


def test_traces_are_found() -> None:
    assert len(list(SHARED.glob("*.json"))) >= 4, SHARED
    assert list(OWN.glob("*.json"))


@pytest.mark.parametrize("path,kind", CASES)
def test_replay(live: Live, path: Path, kind: str) -> None:
    trace = load(path)
    base, headers = live.provider(trace["idp"], kind)
    run(live.client, base, headers, trace)


def test_subset_matching_rules() -> None:
    assert mismatch({"UserName": "a"}, {"userName": "a"}) is None
    assert mismatch({"x": "__absent__"}, {"X": 1}) is not None
    assert mismatch({"x": "__absent__"}, {"y": 1}) is None
    assert mismatch([{"v": 1}], [{"v": 2}, {"v": 1, "w": 3}]) is None
    assert mismatch([{"v": 1}], [{"v": 2}]) is not None
    assert mismatch({"n": 1}, {"n": True}) is not None


@pytest.mark.parametrize("name,other,kind,failing_note", [
    ("entra-dialect", "okta", "basic", "string booleans and a bare manager id"),
    ("okta-dialect", "entra", "bearer", "a PATCH that would make userName not an email"),
])
def test_a_dialect_trace_fails_for_the_other_plugin(live: Live, name: str, other: str,
                                                    kind: str, failing_note: str) -> None:
    """The dialect rules belong to one plugin: the same requests from a provider of the
    other plugin fail, at the first step that relies on them."""
    base, headers = live.provider(other, kind)
    with pytest.raises(AssertionError) as failed:
        run(live.client, base, headers, load(OWN / f"{name}.json"))
    assert failing_note in str(failed.value)
