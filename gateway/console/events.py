"""Console pages."""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute


def routes(page: Any) -> list[BaseRoute]:
    return []
