"""What the console's browser tests share: the served gateway's printed values, signing
in, and screenshots for docs/console.md (CONSOLE_SCREENSHOTS=DIR)."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from serving import EXE, free_port, read_lines, start, stop, wait_ready

CONFIG = """
[gateway]
webhook_allow_networks = ["127.0.0.0/8", "::1/128"]  # the tests' receivers on loopback

[plugins]
enabled = ["entra", "okta", "legal_hold", "org_mapping"]

[org_mapping]
roles = ["member", "manager", "admin"]
"""


@dataclass
class Served:
    """A running gateway and what its first start printed."""

    url: str  # http://127.0.0.1:PORT
    scim_base: str
    bearer: str
    admin_token: str
    console_url: str
    password: str
    database: Path
    config: Path
    proc: subprocess.Popen = field(repr=False)

    @property
    def provider_id(self) -> str:
        """The first start's provider (the one whose bearer token was printed)."""
        return self.scim_base.rsplit("/", 1)[1]

    def scim(self, token: str | None = None) -> httpx.Client:
        """A client of that provider's SCIM API, as its IdP talks to it."""
        return httpx.Client(base_url=self.scim_base, timeout=10, headers={
            "Authorization": f"Bearer {token or self.bearer}",
            "Content-Type": "application/scim+json"})

    def admin(self) -> httpx.Client:
        """A client of the admin API with the printed admin token."""
        return httpx.Client(base_url=f"{self.url}/admin/v1", timeout=10,
                            headers={"Authorization": f"Bearer {self.admin_token}"})

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(EXE), *args, "--database", str(self.database),
                               "--config", str(self.config)], capture_output=True,
                              text=True, input=stdin, timeout=120)


@contextmanager
def first_start(folder: Path) -> Iterator[Served]:
    """`identity-gateway serve` started for the first time on a database in ``folder``, with
    what it printed; stopped afterwards."""
    config = folder / "identity-gateway.toml"
    config.write_text(CONFIG)
    database, port = folder / "gw.db", free_port()
    proc = start(database, port, config)
    try:
        lines = read_lines(proc, 5)
        values = dict(line.split(": ", 1) for line in lines if ": " in line)
        assert set(values) >= {"SCIM base URL", "Bearer token", "Admin token", "Console URL",
                               "Console password"}, lines
        wait_ready(values["SCIM base URL"])
        yield Served(url=f"http://127.0.0.1:{port}", scim_base=values["SCIM base URL"],
                     bearer=values["Bearer token"], admin_token=values["Admin token"],
                     console_url=values["Console URL"], password=values["Console password"],
                     database=database, config=config, proc=proc)
    finally:
        stop(proc)


def open_page(browser: Any, width: int = 1280, height: int = 900, **options: Any) -> Any:
    """A page in a context of its own (close it with ``page.context.close()``), whose
    ``errors`` collects script errors and CSP violations (an answer's own status is not
    one of them). ``options`` go to the context: color_scheme, reduced_motion..."""
    context = browser.new_context(viewport={"width": width, "height": height},
                                  permissions=["clipboard-read", "clipboard-write"], **options)
    context.set_default_timeout(20_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("console", lambda m: errors.append(m.text) if m.type == "error"
              and not m.text.startswith("Failed to load resource") else None)
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.errors = errors
    return opened


def sign_in(page: Any, served: Served, username: str = "admin",
            password: str | None = None) -> None:
    page.goto(served.console_url)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password or served.password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/(?!sign-in).*"))


def shot(page: Any, name: str) -> None:
    """A screenshot for docs/console.md, when CONSOLE_SCREENSHOTS names a folder."""
    folder = os.environ.get("CONSOLE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
