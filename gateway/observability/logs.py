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
import threading
from datetime import UTC, datetime
from typing import Any, TextIO

import msgspec
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.msgspec import MsgspecFormatter, msgspec_default

from gateway.settings import ConfigError

FORMATS = ("json", "text")
TEXT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# uvicorn repeats its startup lines with terminal colour codes: not for a JSON line.
SKIPPED = [*RESERVED_ATTRS, "color_message"]


FLUSH_EVERY = 0.25  # seconds an INFO line may wait in memory before it is written
FLUSH_BYTES = 64 * 1024


class BatchingHandler(logging.StreamHandler):
    """Lines gather in memory and reach the stream in one write: every FLUSH_EVERY seconds
    (a timer thread), when FLUSH_BYTES gathered, at once for a warning or an error, and when
    the process exits (logging's shutdown flushes every handler). One write per request
    line costs a system call each; a request line is most of what is logged."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self.pending: list[str] = []
        self.size = 0
        self.closed = threading.Event()
        threading.Thread(target=self._tick, name="log-flush", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:  # logging's own rule: a record that cannot be formatted is reported
            self.handleError(record)
            return
        self.pending.append(line)
        self.size += len(line)
        if record.levelno >= logging.WARNING or self.size >= FLUSH_BYTES:
            self.flush()

    def add_json(self, fields: dict[str, Any]) -> None:
        """A JSON line made by the caller, as the JSON formatter would write it for a record
        with these fields: for the request line, where a LogRecord and the formatter's
        walk over the record's attributes cost several times the fields themselves."""
        line = _encode(fields).decode() + self.terminator
        with self.lock:  # type: ignore[union-attr]  # a Handler's lock exists once created
            self.pending.append(line)
            self.size += len(line)
        if self.size >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # a Handler's lock exists once created
            if self.pending:
                self.stream.write("".join(self.pending))
                self.pending.clear()
                self.size = 0
            super().flush()

    def close(self) -> None:
        self.flush()
        self.closed.set()
        super().close()

    def _tick(self) -> None:
        while not self.closed.wait(FLUSH_EVERY):
            self.flush()


_encode = msgspec.json.Encoder(enc_hook=msgspec_default).encode
_json_handler: BatchingHandler | None = None  # the handler configure() made for JSON


def json_lines_to(logger: logging.Logger) -> BatchingHandler | None:
    """The handler an INFO record of ``logger`` reaches, when that is only the JSON handler
    configure() installed (no filter, handler or level in between): a caller may then write
    its line with ``add_json``. None otherwise (text lines, a test capturing the log)."""
    handler = _json_handler
    if handler is None or logger.filters or logger.disabled:
        return None
    root = logging.root
    if root.handlers != [handler] or handler.filters or handler.level > logging.INFO:
        return None
    current: logging.Logger | None = logger
    while current is not None and current is not root:  # its ancestors hand it on as is
        if current.handlers or not current.propagate:
            return None
        current = current.parent
    return handler


def line_time() -> datetime:
    """The time of a line written with add_json, as the JSON formatter gives it."""
    return datetime.now(UTC)


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
    global _json_handler
    handler = BatchingHandler(stream or sys.stdout)
    handler.setFormatter(formatter(fmt))
    _json_handler = handler if fmt == "json" else None
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
