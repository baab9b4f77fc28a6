"""Logging for `identity-gateway serve`: one JSON object per line (python-json-logger's
msgspec formatter) for log collectors, or plain text lines for people.

Every logger of the process (the gateway's, uvicorn's, the libraries') goes to one handler
on the root logger; uvicorn's own access log is switched off, the middleware's
``identity_gateway.access`` line replaces it. Nothing logged carries a credential: request
lines name the route template, never the raw path, the query or a header but the user
agent.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.msgspec import MsgspecFormatter

from gateway.settings import ConfigError

FORMATS = ("json", "text")
TEXT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# uvicorn repeats its startup lines with terminal colour codes: not for a JSON line.
SKIPPED = [*RESERVED_ATTRS, "color_message"]


def default_format(stream: TextIO) -> str:
    """json for a collector, text when a person watches the terminal."""
    return "text" if stream.isatty() else "json"


def formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return MsgspecFormatter(
            "{levelname}{name}{message}", style="{", timestamp="time", reserved_attrs=SKIPPED,
            rename_fields={"levelname": "level", "name": "logger", "exc_info": "error"})
    return logging.Formatter(TEXT)


def configure(fmt: str, level: str = "info", stream: TextIO | None = None) -> None:
    """Send every log record of the process to `stream` (stdout) in `fmt`."""
    if fmt not in FORMATS:
        raise ConfigError(f"log_format must be one of {', '.join(FORMATS)}, not '{fmt}'")
    # What the JSON line does not show is not computed for each record: the caller's frame,
    # thread and process names (Python's documented logging optimisations).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
