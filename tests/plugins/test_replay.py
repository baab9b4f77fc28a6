"""Every trace in tests/plugins/traces/ (always) and in the shared trace folder (when there
is one) against a live gateway: a real `identity-gateway serve` process on a loopback port, a
fresh provider per trace file with the trace's plugin and credential kind, every step over
HTTP."""

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
OWN = Path(__file__).parent / "traces"
# The project's own traces: the vendor suites' requests (docs/idp/entra.md, docs/idp/okta.md),
# the dialect rules, and a copy of each shared trace. Every one must be there.
REQUIRED = {
    "entra-dialect", "okta-dialect",
    "shared-entra-users", "shared-entra-groups", "shared-okta-users", "shared-okta-groups",
    "okta-oin-spec", "okta-oin-crud", "okta-scim20-reference",
    "entra-provisioning", "entra-provisioning-scim062020", "entra-gallery-validation",
}


def shared_folder() -> Path | None:
    """The shared traces: $IDP_TRACES, else shared/idp-traces beside the checkout or beside a
    folder above it (a worktree lives one level further down). None when there are none."""
    if os.environ.get("IDP_TRACES"):
        return Path(os.environ["IDP_TRACES"])
    for folder in ROOT.parents:
        if (folder / "shared" / "idp-traces").is_dir():
            return folder / "shared" / "idp-traces"
    return None


SHARED = shared_folder()
CREDENTIALS = {"entra": ["bearer", "oauth"], "okta": ["basic"]}


def cases(paths: list[Path]) -> list:
    return [pytest.param(path, kind, id=f"{path.parent.name}/{path.stem}-{kind}")
            for path in paths for kind in CREDENTIALS[load(path)["idp"]]]


OWN_CASES = cases(sorted(OWN.glob("*.json")))
SHARED_CASES = cases(sorted(SHARED.glob("*.json"))) if SHARED and SHARED.is_dir() else []

sys.path.insert(0, str(ROOT / "tests"))
from serving import free_port, read_lines, start, stop, wait_ready  # noqa: E402


def test_the_own_traces_are_there():
    """Replaying nothing must not pass: the project's traces are part of the contract."""
    found = {path.stem for path in OWN.glob("*.json")}
    assert REQUIRED <= found, f"missing in {OWN}: {sorted(REQUIRED - found)}"


def test_each_own_trace_names_its_source():
    for path in OWN.glob("*.json"):
        trace = load(path)
        assert trace["name"] == path.stem.removeprefix("shared-"), path
        if not path.stem.startswith("shared-") and not path.stem.endswith("-dialect"):
            assert trace.get("source"), f"{path.name}: no top-level source"
            assert all(step.get("from") for step in trace["steps"]), \
                f"{path.name}: a step without 'from'"


def test_the_shared_traces_are_there():
    """The shared folder is an extra check: where there is one, it holds the four traces and
    the repository's copies of them are the same files."""
    if SHARED is None:
        pytest.skip("no shared IdP traces beside this checkout (set IDP_TRACES to use some)")
    assert SHARED.is_dir(), f"IDP_TRACES names no folder: {SHARED}"
    shared = sorted(SHARED.glob("*.json"))
    assert len(shared) >= 4, f"no IdP traces found in {SHARED}"
    for path in shared:
        copy = OWN / f"shared-{path.name}"
        assert copy.exists(), f"{path.name} has no copy in {OWN}"
        assert copy.read_bytes() == path.read_bytes(), f"{copy.name} differs from {path}"


class Live:
    def __init__(self, url: str, admin_token: str) -> None:
        self.url = url
        self.client = httpx.Client(timeout=10)
        self.admin = {"Authorization": f"Bearer {admin_token}"}
        self.count = 0

    def provider(self, plugin: str, kind: str) -> tuple[str, dict]:
        """A fresh provider of this plugin; its base URL and the headers its IdP sends."""
        base, headers, _ = self.provider_with_credentials(plugin, kind)
        return base, headers

    def provider_with_credentials(self, plugin: str, kind: str) -> tuple[str, dict, dict]:
        """...and the trace variables for its credential (an OAuth client's id and secret)."""
        self.count += 1
        r = self.client.post(f"{self.url}/admin/v1/providers", headers=self.admin,
                             json={"name": f"{plugin}-{kind}-{self.count}", "auth": kind,
                                   "plugin": plugin})
        assert r.status_code == 201, r.text
        view, creds = r.json(), r.json()["credentials"]
        base = view["base_url"]
        if kind == "bearer":
            return base, {"Authorization": f"Bearer {creds['Bearer token']}"}, {}
        if kind == "basic":
            pair = f"{creds['Username']}:{creds['Password']}".encode()
            return base, {"Authorization": "Basic " + base64.b64encode(pair).decode()}, {}
        client = {"client_id": creds["Client ID"], "client_secret": creds["Client secret"]}
        token = self.client.post(f"{base}/oauth/token",
                                 data={"grant_type": "client_credentials", **client})
        assert token.status_code == 200, token.text
        return base, {"Authorization": f"Bearer {token.json()['access_token']}"}, client


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


def replay(live: Live, path: Path, kind: str) -> None:
    trace = load(path)
    base, headers, credentials = live.provider_with_credentials(trace["idp"], kind)
    run(live.client, base, headers, trace, kind, credentials)


@pytest.mark.parametrize("path,kind", OWN_CASES)
def test_replay(live: Live, path: Path, kind: str) -> None:
    replay(live, path, kind)


@pytest.mark.parametrize("path,kind", SHARED_CASES)
def test_replay_shared(live: Live, path: Path, kind: str) -> None:
    replay(live, path, kind)


def test_subset_matching_rules() -> None:
    assert mismatch({"UserName": "a"}, {"userName": "a"}) is None
    assert mismatch({"x": "__absent__"}, {"X": 1}) is not None
    assert mismatch({"x": "__absent__"}, {"y": 1}) is None
    assert mismatch([{"v": 1}], [{"v": 2}, {"v": 1, "w": 3}]) is None
    assert mismatch([{"v": 1}], [{"v": 2}]) is not None
    assert mismatch({"n": 1}, {"n": True}) is not None


@pytest.mark.parametrize("expected,good,bad", [
    ("__empty__", [None, "", [], {}], [0, "x", False, [1]]),
    ("__present__", [0, "", False, []], [None]),
    ("__nonempty__", [0, "x", False, [1], {"a": 1}], [None, "", [], {}]),
    ("__number__", [0, 7], ["7", 1.5, True, None]),
    ({"__range__": [3600, 21600]}, [3600, 21600, 7200.0], [3599, 21601, "3600", True]),
])
def test_value_matchers(expected, good, bad) -> None:
    for value in good:
        assert mismatch({"k": expected}, {"k": value}) is None, value
    for value in bad:
        assert mismatch({"k": expected}, {"k": value}) is not None, value
    assert (mismatch({"k": expected}, {}) is None) == (expected == "__empty__")


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
