"""Hook tracing: one log line per call of a hook implementation, with its plugin, its
arguments summarised and its duration, when ``trace_hooks`` is on (a plugin author's view
of what the gateway asks of the plugin, as datasette's ``?_trace=1`` shows its hooks).

Arguments are summarised, never written out: a provider by its id and plugin, a request by
its method and path, a dict by its keys, a list by its length, a string by its length
(only the few parameters that name a kind of thing, such as ``operation``, are shown as
they are). So no secret (the ``secret`` a credential is issued from, a body's password, a
presented token) and no personal data reach the log.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request

from gateway.store.base import ProviderRow

log = logging.getLogger("identity_gateway.hooks")

# Parameters whose text is a word of the gateway's own vocabulary: shown as they are.
WORDS = frozenset({"resource_type", "operation", "change", "kind", "dialect"})
KEYS_SHOWN = 12


def summary(name: str, value: Any) -> Any:
    """What the log says about one argument (or an answer)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value[:64] if name in WORDS else f"str ({len(value)} chars)"
    if isinstance(value, dict):
        keys = [str(k)[:64] for k in list(value)[:KEYS_SHOWN]]
        more = len(value) - len(keys)
        return {"keys": keys + ([f"... {more} more"] if more > 0 else [])}
    if isinstance(value, list | tuple | set | frozenset):
        return f"{type(value).__name__} of {len(value)}"
    if isinstance(value, ProviderRow):
        return f"provider {value.id} ({value.plugin or 'no plugin'})"
    if isinstance(value, Request):
        return f"request {value.method} {value.url.path}"
    return type(value).__name__


def write(hook: str, plugin: str, kwargs: dict[str, Any], started: float, answer: Any,
          error: BaseException | None = None) -> None:
    ms = round((time.perf_counter() - started) * 1000, 3)
    shown = {k: summary(k, v) for k, v in kwargs.items() if k != "gateway"}
    extra: dict[str, Any] = {"hook": hook, "plugin": plugin, "arguments": shown, "ms": ms}
    if error is not None:
        extra["raised"] = type(error).__name__
    else:
        extra["answer"] = summary("answer", answer)
    log.info("hook %s %s %.3f ms%s", hook, plugin, ms,
             f" raised {type(error).__name__}" if error is not None else "", extra=extra)


def traced(hook: str, plugin: str, function: Callable[..., Any],
           awaited: bool = True) -> Callable[..., Any]:
    """`function`, logging each call; an awaitable answer is timed until it is awaited (for
    a hook that is ``awaited``: a direct hook's awaitable is refused by the caller as is)."""

    def call(**kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            answer = function(**kwargs)
        except BaseException as exc:
            write(hook, plugin, kwargs, started, None, exc)
            raise
        if awaited and inspect.isawaitable(answer):
            return finish(answer, kwargs, started)
        write(hook, plugin, kwargs, started, answer)
        return answer

    async def finish(pending: Awaitable[Any], kwargs: dict[str, Any], started: float) -> Any:
        try:
            answer = await pending
        except BaseException as exc:
            write(hook, plugin, kwargs, started, None, exc)
            raise
        write(hook, plugin, kwargs, started, answer)
        return answer

    log.setLevel(logging.INFO)  # asked for: shown whatever the process's log level
    return call
