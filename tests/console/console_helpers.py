"""What the console's browser tests share: the served gateway's printed values, signing
in, and screenshots for docs/console.md (CONSOLE_SCREENSHOTS=DIR)."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from serving import EXE

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
