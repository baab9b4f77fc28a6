"""legal_hold: a user on hold whose deactivation comes due is blocked instead.

Holds are placed and released by the admin (``/admin/v1/legal-holds``, or
``identity-gateway legal-hold place|release|list``). Releasing a hold deactivates at once a
user whose provider wants it inactive; other users stay as they are.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from gateway.plugin import Decision, Migration, UserColumn, hookimpl, migrations_in
from identity_gateway_legal_hold import cli, console, holds, routes
from identity_gateway_legal_hold.holds import NAME


@hookimpl
def migrations(dialect: str) -> list[Migration]:
    return migrations_in(resources.files(__package__) / "migrations" / dialect, NAME)


@hookimpl
def lifecycle_decision(provider: Any, user: dict, change: str, conn: Any) -> Any:
    # Only the moment a deactivation would take effect matters: until then it may be undone.
    if change != "due":
        return None
    return _decide(user["id"], conn)


async def _decide(user_id: str, conn: Any) -> Decision | None:
    hold = await holds.active_hold(conn, user_id)
    if hold is None:
        return None
    return Decision(action="block", reason=f"legal_hold: {hold['matter']}")


@hookimpl
def user_view(user: dict, conn: Any) -> Any:
    return _view(user["id"], conn)


async def _view(user_id: str, conn: Any) -> dict:
    hold = await holds.active_hold(conn, user_id)
    return {"legal_hold": None if hold is None else holds.hold_view(hold)}


@hookimpl
def event_types() -> list:
    return ["user.legal_hold_placed", "user.legal_hold_released"]


@hookimpl
def user_columns() -> list:
    # The hold's matter: what the admin searches the list for.
    return [UserColumn("legal hold",
                       lambda view: (view.get("legal_hold") or {}).get("matter") or "")]


@hookimpl
def extra_routes() -> list:
    return routes.routes()


@hookimpl
def cli_commands(subparsers: Any, common: Any) -> None:
    cli.add_commands(subparsers, common)


@hookimpl
def console_pages() -> list:
    return console.console_items()
