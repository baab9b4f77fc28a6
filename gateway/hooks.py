"""The plugin manager, and the one way every hook is called.

Plugins are pluggy plugins, loaded from the entry-point group ``identity_gateway.plugins``
and enabled by the config file. The gateway calls every hook through ``Hooks`` (never through
``pm.hook`` directly), so each hook behaves as ``gateway/hookspecs.py`` documents it:

- ``await hooks.call(name, ...)``: every implementation is called in pluggy's order and its
  answer awaited when it is awaitable; the result is the list of answers that are not None,
  or, for a hook marked ``firstresult``, the first such answer (None when all abstain);
- ``await hooks.chain(name, key, value, ...)``: each implementation gets the previous one's
  answer as ``key`` (``normalize_request``);
- ``hooks.call_sync(name, ...)``: the startup hooks marked ``startup`` in hookspecs.py, called
  while the app or the command line is being built, where nothing can be awaited.

Implementation styles the gateway does not run are refused when the plugin is registered,
with an error that names the plugin and the hook: pluggy wrappers (``wrapper=True`` or
``hookwrapper=True``) and ``async def`` implementations of startup hooks.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import entry_points
from typing import Any

import pluggy

from gateway import __version__, hookspecs
from gateway.accounts.credentials import BuiltinAuth
from gateway.errors import GatewayError

ENTRY_POINT_GROUP = "identity_gateway.plugins"
BUILTIN = ("builtin_auth",)

Impl = tuple[Callable, tuple[str, ...]]


class PluginError(GatewayError):
    """A plugin that cannot be loaded: not installed, or written in a way the gateway does
    not run."""

    status = 500


class UnknownPlugin(PluginError):
    pass


def available_plugins() -> dict[str, Any]:
    """Every installed plugin's entry point, by name."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def make_plugin_manager(enabled: Iterable[str] = (),
                        extra: Iterable[Any] | Mapping[str, Any] = ()) -> pluggy.PluginManager:
    """Built-ins, then the enabled entry-point plugins, then objects passed directly (a
    mapping gives them the names providers refer to them by)."""
    pm = pluggy.PluginManager("identity_gateway")
    pm.add_hookspecs(hookspecs)
    register(pm, BuiltinAuth(), "builtin_auth")
    found = available_plugins()
    for name in enabled:
        if name not in found:
            raise UnknownPlugin(
                f"plugin '{name}' is enabled in the config but not installed "
                f"(installed: {', '.join(sorted(found)) or 'none'})"
            )
        register(pm, found[name].load(), name)
    if isinstance(extra, Mapping):
        for label, plugin in extra.items():
            register(pm, plugin, label)
    else:
        for plugin in extra:
            register(pm, plugin, None)
    return pm


def register(pm: pluggy.PluginManager, plugin: Any, name: str | None) -> None:
    """Register a plugin, refusing what the gateway would silently not run."""
    try:
        registered = pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin '{name or plugin!r}': {exc}") from None
    label = registered or name or repr(plugin)
    try:
        check(pm, plugin, label)
    except PluginError:
        pm.unregister(plugin)
        raise


def check(pm: pluggy.PluginManager, plugin: Any, label: str) -> None:
    for caller in pm.get_hookcallers(plugin) or []:
        for impl in caller.get_hookimpls():
            if impl.plugin is not plugin:
                continue
            where = f"plugin '{label}', hook {caller.name}"
            if impl.hookwrapper or impl.wrapper:
                raise PluginError(
                    f"{where}: wrapper implementations (wrapper=True / hookwrapper=True) are "
                    "not run by identity-gateway; write a plain @hookimpl")
            if is_startup(pm, caller.name) and inspect.iscoroutinefunction(impl.function):
                raise PluginError(
                    f"{where}: a startup hook runs while the app is built and cannot be "
                    "awaited; write it as a plain def")


def describe(pm: pluggy.PluginManager) -> list[dict]:
    """The loaded plugins, as an admin checks them: name, version, the hooks each implements
    (the gateway's own built-ins included). Objects registered directly have no version."""
    found = available_plugins()
    out = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
        entry = found.get(name)
        version = entry.dist.version if entry is not None and entry.dist else None
        out.append({"name": name, "version": version or (__version__ if name in BUILTIN
                                                           else None), "hooks": hooks})
    return out


def is_startup(pm: pluggy.PluginManager, name: str) -> bool:
    spec = getattr(pm.hook, name).spec
    return bool(spec and getattr(spec.function, "startup", False))


def is_firstresult(pm: pluggy.PluginManager, name: str) -> bool:
    spec = getattr(pm.hook, name).spec
    return bool(spec and spec.opts.get("firstresult"))


class Hooks:
    """Calls hooks the way hookspecs.py documents: awaited, first answer where marked."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self._impls: dict[str, list[Impl]] = {}
        self._first: dict[str, bool] = {}

    def register(self, plugin: Any, name: str | None = None) -> None:
        """Add a plugin while the app runs (the webhook loop's wake-up hook)."""
        register(self.pm, plugin, name)
        self._impls.clear()

    def unregister(self, plugin: Any) -> None:
        self.pm.unregister(plugin)
        self._impls.clear()

    def impls(self, name: str) -> list[Impl]:
        """A hook's implementations in call order, with the arguments each takes.

        Built once per hook, and again after a plugin is added or removed through
        `register` / `unregister`. Most hooks have no implementation at all on most writes:
        the cached list is cheaper than pluggy's general call path.
        """
        found = self._impls.get(name)
        if found is None:
            caller = getattr(self.pm.hook, name)
            # pluggy calls implementations last-registered first; keep that order.
            found = [(impl.function, tuple(impl.argnames))
                     for impl in reversed(caller.get_hookimpls())]
            self._impls[name] = found
            self._first[name] = is_firstresult(self.pm, name)
        return found

    async def call(self, name: str, **kwargs: Any) -> Any:
        """Every answer that is not None, in order; for a firstresult hook the first one.

        An implementation that must look something up (in the database, say) before it
        knows may return an awaitable and still abstain with None.
        """
        impls = self.impls(name)
        first = self._first[name]
        results = []
        for function, argnames in impls:
            result = function(**{k: kwargs[k] for k in argnames if k in kwargs})
            if inspect.isawaitable(result):
                result = await result
            if result is not None:
                if first:
                    return result
                results.append(result)
        return None if first else results

    async def chain(self, name: str, key: str, value: Any, **kwargs: Any) -> Any:
        """Call each implementation with the previous one's result as `key`."""
        for function, argnames in self.impls(name):
            given = {**kwargs, key: value}
            result = function(**{k: given[k] for k in argnames if k in given})
            if inspect.isawaitable(result):
                result = await result
            if result is not None:
                value = result
        return value

    def call_sync(self, name: str, **kwargs: Any) -> Any:
        """A startup hook, while the app or command line is built: same answers as `call`."""
        impls = self.impls(name)
        first = self._first[name]
        results = []
        for function, argnames in impls:
            result = function(**{k: kwargs[k] for k in argnames if k in kwargs})
            if inspect.isawaitable(result):
                close = getattr(result, "close", None)
                if close is not None:
                    close()  # never awaited: close it so Python does not warn later
                raise PluginError(f"hook {name} returned an awaitable from "
                                  f"{function.__module__}.{function.__qualname__}; it is a "
                                  "startup hook and must return its answer directly")
            if result is not None:
                if first:
                    return result
                results.append(result)
        return None if first else results
