"""The plugin manager: built-ins, entry points, and the config's list of enabled plugins."""

from __future__ import annotations

import inspect
from importlib.metadata import entry_points
from typing import Any, Callable, Iterable

import pluggy

from gateway import hookspecs
from gateway.auth import BuiltinAuth

ENTRY_POINT_GROUP = "identity_gateway.plugins"


class UnknownPlugin(Exception):
    pass


def available_plugins() -> dict[str, Any]:
    """Every installed plugin's entry point, by name."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def make_plugin_manager(enabled: Iterable[str] = (), extra: Iterable[Any] = ()) -> pluggy.PluginManager:
    """Built-ins, then the enabled entry-point plugins, then objects passed directly."""
    pm = pluggy.PluginManager("identity_gateway")
    pm.add_hookspecs(hookspecs)
    pm.register(BuiltinAuth(), name="builtin_auth")
    found = available_plugins()
    for name in enabled:
        if name not in found:
            raise UnknownPlugin(
                f"plugin '{name}' is enabled in the config but not installed "
                f"(installed: {', '.join(sorted(found)) or 'none'})"
            )
        pm.register(found[name].load(), name=name)
    for plugin in extra:
        pm.register(plugin)
    return pm


async def await_me_maybe(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


class Hooks:
    """Calls hooks the way the gateway needs: awaiting results, chaining, first answer."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self._impls: dict[str, list[tuple[Callable, tuple[str, ...]]]] = {}

    def register(self, plugin: Any, name: str | None = None) -> None:
        """Add a plugin while the app runs (the webhook loop's wake-up hook)."""
        self.pm.register(plugin, name=name)
        self._impls.clear()

    def unregister(self, plugin: Any) -> None:
        self.pm.unregister(plugin)
        self._impls.clear()

    def impls(self, name: str) -> list[tuple[Callable, tuple[str, ...]]]:
        """A hook's implementations in call order, with the arguments each takes.

        Built once per hook, and again after a plugin is added or removed through
        `register` / `unregister`.
        """
        found = self._impls.get(name)
        if found is None:
            caller = getattr(self.pm.hook, name)
            # pluggy calls implementations last-registered first; keep that order.
            found = [(impl.function, tuple(impl.argnames))
                     for impl in reversed(caller.get_hookimpls())]
            self._impls[name] = found
        return found

    async def first(self, name: str, **kwargs: Any) -> Any:
        """The first answer that is not None, awaiting each: an implementation that must
        look something up (e.g. in the database) before it knows may still abstain."""
        for function, argnames in self.impls(name):
            result = await await_me_maybe(
                function(**{k: kwargs[k] for k in argnames if k in kwargs}))
            if result is not None:
                return result
        return None

    async def all(self, name: str, **kwargs: Any) -> list:
        """Every implementation's answer that is not None, in pluggy's order. Runs several
        times per write, mostly with no implementation at all: the cached list is cheaper
        than pluggy's general call path."""
        results = []
        for function, argnames in self.impls(name):
            result = await await_me_maybe(
                function(**{k: kwargs[k] for k in argnames if k in kwargs}))
            if result is not None:
                results.append(result)
        return results

    async def chain(self, name: str, key: str, value: Any, **kwargs: Any) -> Any:
        """Call each implementation with the previous one's result as `key`."""
        for function, argnames in self.impls(name):
            given = {**kwargs, key: value}
            result = await await_me_maybe(function(**{k: given[k] for k in argnames
                                                      if k in given}))
            if result is not None:
                value = result
        return value

    def sync_all(self, name: str, **kwargs: Any) -> list:
        return [r for r in getattr(self.pm.hook, name)(**kwargs) if r is not None]
