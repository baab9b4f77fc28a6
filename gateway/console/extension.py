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
    view). It returns markup (``gateway.plugin.console_fragment``) or None to show nothing."""

    on: str
    title: str
    render: Callable[[Request, dict], Awaitable[Any]]
    templates: str | Path | None = None


class ConsoleIdp(msgspec.Struct, frozen=True, kw_only=True):
    """An identity provider that "Add provisioning provider" offers: providers made with it
    name ``plugin`` and one of its credential ``kinds`` ((kind, what the IdP calls it)).
    The result page shows each shown value under the name of the IdP field it is pasted
    into (``fields``: "SCIM base URL" or a credential line's label -> the IdP's field) and
    the IdP's next ``steps``; ``{base_url}`` in a step is the provider's base URL. (The
    connection check names the requests the IdP's own test sends from the
    ``request_probes`` hook.)"""

    plugin: str | None
    title: str
    kinds: Sequence[tuple[str, str]]
    fields: dict[str, str] = {}
    steps: Sequence[str] = ()


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
