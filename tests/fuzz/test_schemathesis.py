"""Schemathesis against both OpenAPI documents, on a real `identity-gateway serve` on
loopback: no request may answer 5xx, every answer must match the document, and a refused
write must change nothing (the rows of resources, members, successful sync-log entries and
the outbox stay as they were).

Bounded here (FUZZ_EXAMPLES per operation, a fixed FUZZ_SEED); `make fuzz` runs the same
with thousands of examples and a random seed. Webhook URLs the gateway would accept are
pointed at a closed loopback port, so deliveries never leave the machine.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from serving import LINE, free_port, read_lines, start, stop, wait_ready

from gateway.api.openapi import ADMIN_PREFIX, SCIM_PREFIX, admin_document, mounted, scim_document
from gateway.app import create_app
from gateway.events.webhooks import WebhookError, check_url
from gateway.settings import Settings
from gateway.store.base import ProviderRow

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
PLUGINS = ["org_mapping", "legal_hold"]
SEED = int(os.environ["FUZZ_SEED"]) if os.environ.get("FUZZ_SEED") else 20260101
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
LOOPBACK_HOOK = "http://127.0.0.1:9/fuzz"  # nothing listens there: a delivery fails at once
CONFIG = """
[gateway]
webhook_max_attempts = 1
webhook_timeout = 1.0
webhook_allow_networks = ["127.0.0.0/8"]  # the closed port below

[plugins]
enabled = ["org_mapping", "legal_hold"]
"""
COUNTS = {
    "resources": "SELECT COUNT(*) FROM resources",
    "members": "SELECT COUNT(*) FROM members",
    "sync_log_successes": "SELECT COUNT(*) FROM sync_log WHERE outcome = 'success'",
    "outbox": "SELECT COUNT(*) FROM outbox",
}


@dataclass
class Server:
    database: Path
    base: str  # the SCIM base URL of the provider `default`
    token: str
    admin: str
    root: str

    def counts(self) -> dict[str, int]:
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as db:
            return {name: db.execute(sql).fetchone()[0] for name, sql in COUNTS.items()}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("fuzz")
    (work / "gateway.toml").write_text(CONFIG)
    proc = start(work / "gw.db", free_port(), work / "gateway.toml")
    try:
        lines = read_lines(proc, 3)
        base = LINE.match(lines[0]).group(1)
        running = Server(work / "gw.db", base, lines[1].split(": ", 1)[1],
                         lines[2].split(": ", 1)[1], base.split("/scim/")[0])
        wait_ready(base)
        yield running
    finally:
        stop(proc)


def load(url: str, token: str) -> Any:
    document = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    document.raise_for_status()
    doc = document.json()
    config = schemathesis.Config.from_dict({"headers": {"Authorization": f"Bearer {token}"},
                                            "base-url": doc["servers"][0]["url"]})
    return schemathesis.openapi.from_dict(doc, config=config)


@pytest.fixture(scope="module")
def scim_api(server: Server) -> Any:
    return load(f"{server.base}/openapi.json", server.token)


@pytest.fixture(scope="module")
def admin_api(server: Server) -> Any:
    return load(f"{server.root}/admin/v1/openapi.json", server.admin)


def operations() -> tuple[list[str], list[str]]:
    """The operations of both documents as the same app describes them, read without a
    server so that each becomes a test of its own."""
    app = create_app(Settings(database=":memory:", plugins=PLUGINS))
    gw = app.state.gateway
    provider = ProviderRow(id="p", name="p", plugin=None, auth_kind="bearer", settings={},
                           created_at="")
    scim_doc = scim_document(gw, provider, mounted(app, SCIM_PREFIX))
    admin_doc = admin_document(gw, mounted(app, ADMIN_PREFIX))
    return ([f"{m.upper()} {p}" for p, ops in scim_doc["paths"].items() for m in ops],
            [f"{m.upper()} {p}" for p, ops in admin_doc["paths"].items() for m in ops])


SCIM_OPERATIONS, ADMIN_OPERATIONS = operations()


def keep_on_loopback(case: Any) -> None:
    """A webhook URL the gateway would register points at the closed loopback port."""
    if case.method == "POST" and case.path == "/admin/v1/webhooks" and \
            isinstance(case.body, dict) and "url" in case.body:
        try:
            check_url(case.body["url"])
        except WebhookError:
            return  # refused anyway: the refusal is what is tested
        case.body["url"] = LOOPBACK_HOOK


def exercise(case: Any, server: Server) -> None:
    keep_on_loopback(case)
    before = server.counts()
    response = case.call(timeout=30)
    case.validate_response(response, checks=[not_a_server_error,
                                             response_schema_conformance])
    if case.method in WRITES and response.status_code >= 400:
        assert server.counts() == before, (
            f"{case.method} {case.formatted_path} answered {response.status_code} but "
            f"changed the data: {before} -> {server.counts()}")


def fuzz(schema: Any, label: str, server: Server) -> None:
    """Valid and invalid requests for one operation, EXAMPLES of them, from SEED."""
    method, path = label.split(" ", 1)
    operation = schema[path][method]
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                      operation.as_strategy(GenerationMode.NEGATIVE))

    @hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None,
                         suppress_health_check=list(hypothesis.HealthCheck),
                         phases=[hypothesis.Phase.generate, hypothesis.Phase.shrink])
    @hypothesis.seed(SEED)
    @hypothesis.given(cases)
    def each(case: Any) -> None:
        exercise(case, server)

    each()


@pytest.mark.parametrize("label", SCIM_OPERATIONS)
def test_the_scim_api(label: str, scim_api: Any, server: Server) -> None:
    fuzz(scim_api, label, server)


@pytest.mark.parametrize("label", ADMIN_OPERATIONS)
def test_the_admin_api(label: str, admin_api: Any, server: Server) -> None:
    fuzz(admin_api, label, server)
