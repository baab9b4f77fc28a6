"""One body reader for every route: a declared Content-Length over the limit is refused
before a byte is read, a streamed body is refused at the limit, and nesting is checked on the
raw bytes before decoding (so a thousand levels are a 400, not a RecursionError)."""

from __future__ import annotations

import pytest

from gateway.testing import running

try:
    from gateway.api.http import nesting
except ImportError:
    nesting = None

pytestmark = pytest.mark.anyio

CHUNK = b"x" * 65536
CHUNKS = 200  # 12.5 MiB offered; the limits under test are 8 KiB and 2 MiB


class Upload:
    """A request body that counts how much of it the server pulled."""

    def __init__(self) -> None:
        self.sent = 0

    async def __aiter__(self):
        for _ in range(CHUNKS):
            self.sent += len(CHUNK)
            yield CHUNK


async def routes(gw) -> list[tuple[str, dict, int]]:
    """(path, headers, limit) of a SCIM write, a core admin route and the Entra token
    endpoint (a plugin route on the SCIM prefix, reached without a credential)."""
    settings = gw.gw.settings
    idp = await gw.provider("idp")
    r = await gw.client.post("/admin/v1/providers", headers=gw.admin,
                             json={"name": "e", "auth": "oauth", "plugin": "entra"})
    pid = r.json()["id"]
    return [
        (f"{idp.base}/Users", {**idp.headers, "Content-Type": "application/scim+json"},
         settings.max_body_bytes),
        ("/admin/v1/providers", {**gw.admin, "Content-Type": "application/json"},
         settings.max_body_bytes),
        (f"/scim/v2/{pid}/oauth/token",
         {"Content-Type": "application/x-www-form-urlencoded"}, 8192),
    ]


async def test_a_declared_length_over_the_limit_is_refused_unread(database):
    async with running(database, enabled=["entra"]) as gw:
        for path, headers, _ in await routes(gw):
            upload = Upload()
            r = await gw.client.post(path, content=upload, headers={
                **headers, "Content-Length": str(CHUNKS * len(CHUNK))})
            assert r.status_code == 413, (path, r.text)
            assert upload.sent == 0, path


async def test_a_streamed_body_is_refused_at_the_limit(database):
    async with running(database, enabled=["entra"]) as gw:
        for path, headers, limit in await routes(gw):
            upload = Upload()  # no Content-Length: sent chunked
            r = await gw.client.post(path, content=upload, headers=headers)
            assert r.status_code == 413, (path, r.text)
            # Reading stopped at the first chunk past the limit.
            assert upload.sent <= limit + len(CHUNK), (path, upload.sent)
            assert upload.sent < CHUNKS * len(CHUNK)


async def test_the_token_endpoint_answers_too_large_in_oauth_shape(database):
    async with running(database, enabled=["entra"]) as gw:
        r = await gw.client.post("/admin/v1/providers", headers=gw.admin,
                                 json={"name": "e", "auth": "oauth", "plugin": "entra"})
        r = await gw.client.post(f"/scim/v2/{r.json()['id']}/oauth/token",
                                 content=b"grant_type=client_credentials&x=" + b"y" * 9000,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 413
        assert r.json()["error"] == "invalid_request"


@pytest.mark.parametrize("levels", [990, 5000, 100_000])
async def test_deep_nesting_is_a_400_not_a_500(gateway, idp, levels):
    deep = b'{"userName": "a@b.c", "title": ' + b"[" * levels + b"]" * levels + b"}"
    r = await gateway.client.post(f"{idp.base}/Users", content=deep,
                                  headers={**idp.headers, "Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert "nested deeper than 32 levels" in r.json()["detail"]
    admin = await gateway.client.post("/admin/v1/providers", content=deep,
                                      headers={**gateway.admin,
                                               "Content-Type": "application/json"})
    assert admin.status_code == 400, admin.text
    assert "nested deeper" in admin.json()["detail"]


def test_nesting_ignores_brackets_inside_strings():
    assert nesting(b'{"a": "' + b"[" * 50 + b'\\"' + b"{" * 50 + b'"}') == 1
    assert nesting(b"[" * 40 + b'"]]]\\\\"' + b"]" * 40) == 40
    assert nesting(b'[{"a": [1, {"b": []}]}]') == 0  # under the limit: not scanned
    wide = b"[" + b", ".join([b'{"value": "x"}'] * 1000) + b"]"
    assert nesting(wide) == 2


async def test_a_console_form_is_read_through_the_same_reader(database):
    """The console's sign-in form takes no credential: an endless body must not be read."""
    async with running(database) as gw:
        upload = Upload()
        r = await gw.client.post("/console/sign-in", content=upload,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 413, r.text
        assert upload.sent <= gw.gw.settings.max_body_bytes + len(CHUNK)
        declared = Upload()
        r = await gw.client.post("/console/sign-in", content=declared, headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Content-Length": str(CHUNKS * len(CHUNK))})
        assert r.status_code == 413 and declared.sent == 0
