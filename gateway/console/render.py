"""The console's templates: one Jinja2 environment per app (autoescaped), the navigation,
and the page and fragment renderers that core and plugin pages share."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import jinja2
import msgspec
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from gateway.clock import parse_time
from gateway.console import words

if TYPE_CHECKING:
    from gateway.core import Gateway

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
FLASH = "ig_console_flash"


class NavItem(msgspec.Struct, frozen=True):
    path: str  # under /console
    title: str


CORE_NAV = (
    NavItem("/", "Overview"),
    NavItem("/providers", "Providers"),
    NavItem("/users", "Users"),
    NavItem("/sync-log", "Sync log"),
    NavItem("/webhooks", "Webhooks"),
    NavItem("/events", "Event feed"),
    NavItem("/auth-failures", "Refused requests"),
)
TAIL_NAV = (NavItem("/settings", "Settings"),)


def when(value: Any, now: datetime | None = None) -> Markup | str:
    """A stored time as the console shows it: a <time> with the moment to the second in UTC
    and how long ago it is ("3 minutes ago"); console.js rewrites the moment into the
    browser's time zone and keeps the relative part current."""
    if not value:
        return ""
    try:
        moment = parse_time(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    stamp = moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    ago = words.relative(moment, now or datetime.now(UTC))
    return Markup('<time datetime="{0}" data-when><span class="when-at">{1}</span>'
                  ' <span class="when-ago">({2})</span></time>').format(
        stamp, moment.strftime("%Y-%m-%d %H:%M:%S UTC"), ago)


@jinja2.pass_context
def actor(context: Any, value: str | None, provider_names: dict | None = None) -> str:
    """Who did something, in words; providers by the names the page has
    (`provider_names` given here or in the page's values)."""
    return words.actor(value, provider_names if provider_names is not None
                       else context.get("provider_names"))


def pretty(value: Any) -> str:
    """JSON for reading: indented, keys sorted."""
    return msgspec.json.format(msgspec.json.encode(value), indent=2).decode()


class Console:
    """What the console of one app holds: its templates and the plugins' navigation."""

    def __init__(self, folders: list[Path], nav: list[NavItem], panels: list[Any]) -> None:
        loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader([TEMPLATES, *folders])])
        env = jinja2.Environment(loader=loader, autoescape=True, trim_blocks=True,
                                 lstrip_blocks=True, undefined=jinja2.StrictUndefined)
        env.filters["when"] = when
        env.filters["pretty"] = pretty
        env.filters["actor"] = actor  # {{ e.actor|actor }}, or |actor(provider_names)
        env.filters["operation"] = words.operation
        env.filters["words"] = lambda given: words.value(given, time=when)
        env.filters["label"] = words.label
        self.templates = Jinja2Templates(env=env)
        self.nav = [*CORE_NAV, *nav, *TAIL_NAV]
        self.panels = panels
        self.idps: list[Any] = []  # ConsoleIdp: the IdPs plugins offer
        self.user_filters: list[Any] = []  # ConsoleUserFilter: plugins' user-list filters
        self.user_columns: list[Any] = []  # UserColumn: plugins' user-list columns

    def panels_on(self, place: str, section: str | None = None) -> list[Any]:
        return [panel for panel in self.panels if panel.on == place
                and (section is None or panel.section == section)]

    def context(self, request: Request, values: dict) -> dict:
        session = getattr(request.state, "session", None)
        path = request.url.path.removeprefix("/console")
        current = max((item.path for item in self.nav if path.startswith(item.path)),
                      key=len, default="")
        return {
            "session": session,
            "can_write": session is not None and session.role == "admin",
            "csrf": session.csrf if session else "",
            "nav": self.nav, "current": current,
            "flash": unquote(request.cookies.get(FLASH, ""))[:300],
            **values,
        }

    def page(self, request: Request, template: str, values: dict | None = None,
             status: int = 200) -> HTMLResponse:
        response = self.templates.TemplateResponse(
            request, template, self.context(request, values or {}), status_code=status)
        if request.cookies.get(FLASH):
            response.delete_cookie(FLASH, path="/console")
        return response

    def fragment(self, request: Request, template: str, values: dict | None = None) -> Markup:
        """A piece of a page (a plugin's panel), rendered with the page's context."""
        found = self.templates.get_template(template)
        return Markup(found.render(self.context(request, {"request": request,
                                                          **(values or {})})))


def console_of(request: Request) -> Console:
    return request.app.state.console


def gateway_of(request: Request) -> Gateway:
    return request.app.state.gateway
