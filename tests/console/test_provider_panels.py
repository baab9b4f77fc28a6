"""A plugin's panel on a provider's page appears in the section it names, through the app on
both stores; a section the page does not have stops startup with a clear line, and so does
a FailureLimit out of its ranges."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.plugin import ConsolePanel, FailureLimit, console_fragment, hookimpl
from gateway.settings import ConfigError
from gateway.testing import running

pytestmark = pytest.mark.anyio


async def says_hello(request: Any, provider: dict) -> Any:
    return console_fragment(request, "acme_panel.html", {"name": provider["name"]})


class Acme:
    def __init__(self, section: str, folder: str) -> None:
        self.section, self.folder = section, folder

    @hookimpl
    def console_pages(self) -> list:
        return [ConsolePanel(on="provider", title="Acme health", render=says_hello,
                             templates=self.folder, section=self.section)]


async def test_a_panel_is_in_the_section_it_names(database, tmp_path):
    (tmp_path / "acme_panel.html").write_text('<p id="acme">Hello {{ name }}</p>')
    acme = Acme("overview", str(tmp_path))
    async with running(database, plugins={"acme": acme}) as gw:
        await gw.console_sign_in()
        idp = await gw.provider("idp")
        base = f"/console/providers/{idp.id}"
        overview = (await gw.client.get(base)).text
        assert '<p id="acme">Hello idp</p>' in overview and "Acme health" in overview
        for section in ("settings", "attributes", "guard", "credential"):
            r = await gw.client.get(f"{base}/{section}")
            assert r.status_code == 200 and 'id="acme"' not in r.text, section
        # No panel in Mappings: the section is not listed (its address says so).
        assert f'href="{base}/mappings"' not in overview
        r = await gw.client.get(f"{base}/mappings")
        assert r.status_code == 200 and "No enabled plugin maps" in r.text


async def test_a_section_the_page_does_not_have_stops_startup(tmp_path):
    with pytest.raises(ConfigError, match="names the provider page's section 'advanced'; "
                                          "it has overview, settings, attributes"):
        async with running(tmp_path / "gw.db",
                           plugins={"acme": Acme("advanced", str(tmp_path))}):
            pass


@pytest.mark.parametrize("limits", [{"warn_ratio": 0}, {"warn_ratio": 1.5},
                                    {"warn_ratio": 0.3, "warn_failures": 0},
                                    {"warn_ratio": 0.3, "window": 1441}])
def test_a_failure_limit_out_of_range_is_refused(limits):
    with pytest.raises(ValueError, match="a FailureLimit takes"):
        FailureLimit(title="t", says="s", **limits)
