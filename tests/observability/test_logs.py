"""The logs of `identity-gateway serve`: one JSON object per line (the default when standard
output is not a terminal), a line per request naming its route template, and not one
credential in any line, whatever the IdPs and the admin send."""

from __future__ import annotations

import base64
import io
import json
import logging
import time

import httpx
import oidc_provider as idp
import pytest
from serving import LINE, free_port, read_lines, rest_of_output, start, stop, wait_ready

from gateway.observability import logs
from gateway.observability.middleware import RequestInfo, log_request
from gateway.observability.tracing import trace_for

CONFIG = '[plugins]\nenabled = ["entra", "okta"]\n'
OKTA_PASSWORD = "Okta-User-Pa55word-7d1f"  # a user's password, as Okta may push it


def close_handlers() -> None:
    """What the process does at exit: every handler flushed and closed."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()


def test_lines_are_written_together_but_soon_and_warnings_at_once():
    out = io.StringIO()
    logs.configure("json", "info", out)
    try:
        log = logging.getLogger("identity_gateway.test")
        log.info("gathered")
        assert out.getvalue() == ""  # in memory for a moment, then written with others
        eventually(lambda: "gathered" in out.getvalue(), within=10)
        log.warning("urgent")
        assert "urgent" in out.getvalue()  # no waiting for a warning
    finally:
        close_handlers()


def eventually(check, within: float) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "did not happen"
        time.sleep(0.01)


def test_a_json_line_has_the_record_and_its_fields():
    out = io.StringIO()
    logs.configure("json", "info", out)
    try:
        logging.getLogger("identity_gateway.test").info("hello %s", "you", extra={"n": 1})
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("identity_gateway.test").exception("failed")
    finally:
        close_handlers()
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["message"] == "hello you" and first["n"] == 1
    assert first["level"] == "INFO" and first["logger"] == "identity_gateway.test"
    assert first["time"].endswith("Z") or "+00:00" in first["time"]
    assert second["level"] == "ERROR" and "ValueError: boom" in second["error"]


def test_the_request_line_is_the_line_the_json_formatter_writes():
    """The request line skips the LogRecord and the formatter when only the JSON handler
    would see it; what it writes is what they would have, field for field, in order."""
    out = io.StringIO()
    logs.configure("json", "info", out)
    info = RequestInfo("req-1", trace_for("00-" + "a" * 32 + "-" + "b" * 16 + "-01", "c" * 16))
    info.provider_id = "p1"
    line = ({"client": ("10.0.0.1", 5)}, info, "PATCH", "/scim/v2/{provider}/Users/{id}",
            200, 321, 0.00456, "Okta SCIM Client 1.0.0")
    try:
        log_request(*line)  # directly
        logging.getLogger().handlers[0].addFilter(logging.Filter())  # now through a record
        log_request(*line)
    finally:
        close_handlers()
    direct, recorded = (json.loads(text) for text in out.getvalue().splitlines())
    assert direct.pop("time").endswith("Z") and recorded.pop("time").endswith("Z")
    assert list(direct.items()) == list(recorded.items())
    assert direct["message"] == "PATCH /scim/v2/{provider}/Users/{id} 200 4.6ms"
    assert direct["parent_span_id"] == "b" * 16


def test_text_is_for_people():
    out = io.StringIO()
    logs.configure("text", "info", out)
    try:
        logging.getLogger("identity_gateway.test").info("hello")
    finally:
        close_handlers()
    assert out.getvalue().rstrip().endswith("INFO identity_gateway.test hello")


def basic(user: str, password: str) -> dict:
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


@pytest.mark.parametrize("trace", [False, True], ids=["plain", "trace-hooks"])
def test_no_credential_reaches_the_log(tmp_path, iam_server, monkeypatch, trace):
    """Not in the request lines, nor in the hook trace (every hook call, its arguments
    summarised: a secret by its length at most)."""
    port = free_port()
    # The console signs in with a real OpenID provider, its client secret in the environment.
    client = idp.register(iam_server, f"http://127.0.0.1:{port}/console/sso/callback")
    sso = idp.settings(iam_server, client)
    monkeypatch.setenv("IDENTITY_GATEWAY_SSO_CLIENT_SECRET", sso.pop("client_secret"))
    person = idp.user(iam_server, f"logged-{'t' if trace else 'p'}", client.admins)
    (tmp_path / "gateway.toml").write_text(CONFIG + idp.toml(sso))
    proc = start(tmp_path / "gw.db", port, tmp_path / "gateway.toml", "--log-level", "info",
                 *(["--trace-hooks"] if trace else []))
    secrets: list[str] = []
    try:
        first = dict(line.split(": ", 1) for line in read_lines(proc, 5))  # the first start
        base = LINE.match(f"SCIM base URL: {first['SCIM base URL']}").group(1)
        bearer, admin = first["Bearer token"], first["Admin token"]
        root = base.split("/scim/")[0]
        wait_ready(base)
        with httpx.Client(timeout=10) as http:
            as_admin = {"Authorization": f"Bearer {admin}"}
            entra = http.post(f"{root}/admin/v1/providers", headers=as_admin, json={
                "name": "entra", "auth": "oauth", "plugin": "entra"}).json()
            okta = http.post(f"{root}/admin/v1/providers", headers=as_admin, json={
                "name": "okta", "auth": "basic", "plugin": "okta"}).json()
            client_id = entra["credentials"]["Client ID"]
            client_secret = entra["credentials"]["Client secret"]
            username, password = okta["credentials"]["Username"], okta["credentials"]["Password"]
            issued = http.post(f"{root}/scim/v2/{entra['id']}/oauth/token",
                               headers=basic(client_id, client_secret),
                               data={"grant_type": "client_credentials"})
            access = issued.json()["access_token"]
            http.post(f"{root}/scim/v2/{entra['id']}/oauth/token", data={
                "grant_type": "client_credentials", "client_id": client_id,
                "client_secret": client_secret + "x"})  # a wrong secret, in the form
            assert http.get(f"{root}/scim/v2/{entra['id']}/Users",
                            headers={"Authorization": f"Bearer {access}"}).status_code == 200
            http.get(f"{root}/scim/v2/{entra['id']}/Users",
                     headers={"Authorization": f"Bearer {access}x"})
            created = http.post(f"{root}/scim/v2/{okta['id']}/Users",
                                headers=basic(username, password), json={
                                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                    "userName": "pat@example.com",
                                    "password": OKTA_PASSWORD})
            assert created.status_code == 201, created.text
            http.get(f"{root}/scim/v2/{okta['id']}/Users", headers=basic(username, "wrong"))
            http.get(f"{base}/Users", headers={"Authorization": f"Bearer {bearer}"})
            http.get(f"{base}/Users", headers={"Authorization": f"Bearer {bearer}-not"})
            http.get(f"{root}/admin/v1/sync-log", headers=as_admin)
            scrape = http.get(f"{root}/metrics", headers=as_admin).text
            out = http.get(f"{root}/console/sso/start")
            location = idp.authorize(iam_server, out.headers["location"], person)
            code = httpx.URL(location).params["code"]
            assert http.get(location).status_code == 303  # signed in
            session = http.cookies["ig_console"]
        secrets = [bearer, admin, first["Console password"], client_secret, access, password,
                   OKTA_PASSWORD,
                   basic(username, password)["Authorization"].split()[1],
                   basic(client_id, client_secret)["Authorization"].split()[1],
                   client.secret, code, session]
    finally:
        stop(proc)
    lines = [line for line in rest_of_output(proc).splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    requests = [r for r in records if r["logger"] == "identity_gateway.access"]
    routes = {(r["method"], r["route"], r["status"]) for r in requests}
    assert ("POST", "/scim/v2/{provider}/oauth/token", 200) in routes
    assert ("POST", "/scim/v2/{provider}/Users", 201) in routes
    assert ("GET", "/scim/v2/{provider}/Users", 401) in routes
    assert ("GET", "/metrics", 200) not in routes  # a succeeding scrape is not logged
    assert all(r["request_id"] and r["duration_ms"] >= 0 for r in requests)
    assert any(r["logger"] == "uvicorn.error" for r in records)  # uvicorn's own lines too
    assert not any(r["logger"] == "uvicorn.access" for r in records)
    for secret in secrets:
        assert secret and not [line for line in lines if secret in line], secret
    traced = {(r["hook"], r["plugin"]) for r in records if r["logger"] == "identity_gateway.hooks"}
    if trace:
        assert {("issue_credential", "entra"), ("issue_credential", "builtin_auth"),
                ("authenticate", "entra"), ("authenticate", "builtin_auth"),
                ("validate_resource", "okta"),
                ("canonical_profile", "okta")} <= traced, traced
        calls = [r for r in records if r["logger"] == "identity_gateway.hooks"]
        assert all(r["ms"] >= 0 and isinstance(r["arguments"], dict) for r in calls)
        issued = next(r for r in calls if r["hook"] == "issue_credential")
        assert issued["arguments"]["secret"].startswith("str (") and issued["arguments"]["kind"]
        # Scoped: Entra's hooks saw Entra's provider only, Okta's Okta's.
        for r in calls:
            if r["plugin"] in ("entra", "okta") and "provider" in r["arguments"]:
                assert r["arguments"]["provider"].endswith(f"({r['plugin']})"), r
    else:
        assert not traced
    # The scrape of the running process saw the same traffic.
    created_line = (f'gateway_provisioning_outcomes_total{{outcome="created",'
                    f'provider="{okta["id"]}",resource_type="User"}} 1.0')
    assert created_line in scrape
    assert f'gateway_auth_failures_total{{api="scim",provider="{okta["id"]}"}} 1.0' in scrape
