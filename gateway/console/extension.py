"""What a plugin adds to the console (the `console_pages` hook): pages with their routes and
navigation entries, and panels on the user and provider pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from gateway.accounts.admins import actor
from gateway.console.auth import form_of, redirect
from gateway.console.render import console_of, gateway_of

PANEL_PLACES = ("user", "provider")
# A provider's page is in sections, each at its own address (/console/providers/{id} and
# /console/providers/{id}/<name>): (name, title). A provider panel names the one it is in.
PROVIDER_SECTIONS = (("overview", "Overview"), ("settings", "Settings"),
                     ("attributes", "Attributes"), ("mappings", "Mappings"),
                     ("guard", "Guard"), ("credential", "Credential"))


class ConsolePage(msgspec.Struct, frozen=True, kw_only=True):
    """A page under /console. ``endpoint(request)`` answers it, after the console has
    checked the session, and for any method but GET and HEAD the CSRF token and that the
    account may change things. With a ``title`` the page is listed in the navigation.
    ``templates`` is a folder of Jinja2 templates (keep them in a sub-folder named after
    the plugin, so that names never clash)."""

    path: str
    endpoint: Callable[[Request], Awaitable[Response]]
    title: str | None = None
    methods: Sequence[str] = ("GET",)
    templates: str | Path | None = None


class ConsolePanel(msgspec.Struct, frozen=True, kw_only=True):
    """A block on the console's user page (``on="user"``: ``render(request, user)`` gets
    the admin view of the user) or provider page (``on="provider"``: the provider's admin
    view). It returns markup (``gateway.plugin.console_fragment``) or None to show nothing.
    On the provider page it is in the ``section`` it names: "overview", "settings" (the
    default), "attributes", "mappings", "guard" or "credential" (PROVIDER_SECTIONS); the
    Mappings section is listed only when a panel is in it. ``render`` gets the request of
    that section's page, its query parameters included. ``shows`` names the keys of the
    admin view (a ``user_view`` hook's) that a user-page panel shows in its own words: the
    page's Application section, which lists every other key, leaves them out."""

    on: str
    title: str
    render: Callable[[Request, dict], Awaitable[Any]]
    templates: str | Path | None = None
    section: str = "settings"
    shows: tuple[str, ...] = ()


class FailureLimit(msgspec.Struct, frozen=True, kw_only=True):
    """What makes an IdP act against its own connection when its requests fail (Entra puts
    the application in quarantine), so that the console's overview warns before it does.

    Over the provider's last ``window`` minutes (at most 1440: the activity record keeps a
    day), the overview warns once at least ``warn_failures`` requests failed and they are
    at least ``warn_ratio`` of all its requests; with ``on_refused_credential`` it also warns
    as soon as the connection check says "refused" (requests arrived, none with the current
    credential). A failed request is one the activity record counts as an error: any 5xx,
    any 4xx but a 404 on a read, refused credentials included. The warning is ``title``,
    the numbers, then ``says``: what the IdP will do and what the admin should do."""

    title: str
    says: str
    warn_ratio: float
    warn_failures: int = 1
    window: int = 1440
    on_refused_credential: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.warn_ratio <= 1 or self.warn_failures < 1 \
                or not 1 <= self.window <= 1440:
            raise ValueError("a FailureLimit takes a warn_ratio above 0 and at most 1, "
                             "warn_failures of 1 or more and a window of 1 to 1440 minutes")


class ConsoleIdp(msgspec.Struct, frozen=True, kw_only=True):
    """An identity provider that "Add provisioning provider" offers: providers made with it
    name ``plugin`` and one of its credential ``kinds`` ((kind, what the IdP calls it)).
    The result page shows each shown value under the name of the IdP field it is pasted
    into (``fields``: "SCIM base URL" or a credential line's label -> the IdP's field) and
    the IdP's next ``steps``; ``{base_url}`` in a step is the provider's base URL.
    ``failure_limit`` (a FailureLimit) is the failure rate at which the IdP acts against its
    connection: the console's overview warns before it is reached. (The connection check
    names the requests the IdP's own test sends from the ``request_probes`` hook.)"""

    plugin: str | None
    title: str
    kinds: Sequence[tuple[str, str]]
    fields: dict[str, str] = {}
    steps: Sequence[str] = ()
    failure_limit: FailureLimit | None = None


# What a plugin's console endpoints call (exported by gateway.plugin). ------------------

def console_page(request: Request, template: str, values: dict | None = None,
                 status: int = 200) -> Response:
    """A whole console page: your template extends "base.html" and fills ``main``."""
    return console_of(request).page(request, template, values, status)


def console_fragment(request: Request, template: str, values: dict | None = None) -> Markup:
    """A piece of a page (a panel's content), autoescaped like every console template."""
    return console_of(request).fragment(request, template, values)


async def console_form(request: Request) -> FormData:
    """The submitted form (the console has already checked its CSRF token)."""
    return await form_of(request)


def console_actor(request: Request) -> str:
    """The sync log's actor for a change made by the signed-in account."""
    return actor(request.state.session.admin)


def console_redirect(request: Request, path: str, notice: str | None = None) -> Response:
    """After a change: 303 to a console page (``path`` under /console), with a notice."""
    return redirect(gateway_of(request), path, notice)


class ConsoleUserFilter(msgspec.Struct, frozen=True, kw_only=True):
    """A filter on the console's user list. ``options(request)`` lists the choices as
    (value, label); ``condition(value)`` returns SQL about the user's ``id`` with ``?``
    placeholders and its arguments, for example
    ``("id IN (SELECT user_id FROM my_table WHERE thing = ?)", [value])``."""

    name: str
    label: str
    options: Callable[[Request], Awaitable[list[tuple[str, str]]]]
    condition: Callable[[str], tuple[str, list]]
