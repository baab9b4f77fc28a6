"""The plugin manager, and the one way every hook is called.

Plugins are pluggy plugins, loaded from the entry-point group ``identity_gateway.plugins``
and enabled by the config file. The gateway calls every hook through ``Hooks`` (never through
``pm.hook`` directly), so each hook behaves as ``gateway/hookspecs.py`` documents it:

- ``await hooks.call(name, ...)``: every implementation is called in pluggy's order and its
  answer awaited when it is awaitable; the result is the list of answers that are not None,
  or, for a hook marked ``firstresult``, the first such answer (None when all abstain);
- ``await hooks.chain(name, key, value, ...)``: each implementation gets the previous one's
  answer as ``key`` (``normalize_request``);
- ``hooks.call_sync(name, ...)``: the hooks marked ``direct`` in hookspecs.py (the startup
  hooks, called while the app or the command line is being built, and ``provider_defaults``),
  where nothing can be awaited. A ``ConfigError`` one raises is named after its plugin.

Each implementation of a ``scoped`` hook (or one marked ``@own_providers``) is called only
when the ``provider`` argument is one of its plugin's providers: its ``plugin`` is the name
the plugin was registered by (its entry-point name, or the key it was passed under).

Implementation styles the gateway does not run are refused when the plugin is registered,
with an error that names the plugin and the hook: pluggy wrappers (``wrapper=True`` or
``hookwrapper=True``), ``async def`` implementations of direct hooks, and scoped
implementations of a plugin registered without a name (no provider could name it).

With ``trace`` (``[gateway] trace_hooks``, IDENTITY_GATEWAY_TRACE_HOOKS=1, or
``serve --trace-hooks``) every implementation is wrapped once, when the hook's list is built,
so that each call logs a line: nothing is checked per call when tracing is off.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import entry_points
from typing import Any, NamedTuple

import pluggy

from gateway import __version__, hookspecs
from gateway.errors import GatewayError
from gateway.hook_trace import traced
from gateway.settings import ConfigError

ENTRY_POINT_GROUP = "identity_gateway.plugins"


class Impl(NamedTuple):
    """One implementation as the gateway calls it."""

    function: Callable[..., Any]
    argnames: tuple[str, ...]
    plugin: str
    owner: str | None  # called only for the providers whose plugin this is (None: all)


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
                        extra: Iterable[Any] | Mapping[str, Any] = (),
                        builtins: Mapping[str, Any] | None = None) -> pluggy.PluginManager:
    """The gateway's own built-ins (by name), then the enabled entry-point plugins, then
    objects passed directly (a mapping gives them the names providers refer to them by)."""
    pm = pluggy.PluginManager("identity_gateway")
    pm.add_hookspecs(hookspecs)
    for label, plugin in (builtins or {}).items():
        register(pm, plugin, label)
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
        check(pm, plugin, label, named=name is not None)
    except PluginError:
        pm.unregister(plugin)
        raise


def check(pm: pluggy.PluginManager, plugin: Any, label: str, named: bool = True) -> None:
    for caller in pm.get_hookcallers(plugin) or []:
        for impl in caller.get_hookimpls():
            if impl.plugin is not plugin:
                continue
            where = f"plugin '{label}', hook {caller.name}"
            if impl.hookwrapper or impl.wrapper:
                raise PluginError(
                    f"{where}: wrapper implementations (wrapper=True / hookwrapper=True) are "
                    "not run by identity-gateway; write a plain @hookimpl")
            if is_direct(pm, caller.name) and inspect.iscoroutinefunction(impl.function):
                raise PluginError(
                    f"{where}: this hook is answered directly (while the app is built, or "
                    "where nothing can wait) and cannot be awaited; write it as a plain def")
            scope = getattr(impl.function, hookspecs.SCOPE, None)
            if scope == "own" and "provider" not in spec_args(pm, caller.name):
                raise PluginError(f"{where}: @own_providers on a hook without a provider")
            if owned(pm, caller.name, impl.function) and not named:
                raise PluginError(
                    f"{where}: a scoped hook is called only for the providers of the plugin "
                    "that implements it, and this plugin was registered without a name a "
                    "provider could give; pass it by name (plugins={'name': plugin}) or "
                    "mark the implementation @every_provider")


def spec_args(pm: pluggy.PluginManager, name: str) -> tuple[str, ...]:
    spec = getattr(pm.hook, name).spec
    return tuple(spec.argnames) if spec else ()


def owned(pm: pluggy.PluginManager, name: str, function: Any) -> bool:
    """Whether this implementation is called only for its own plugin's providers."""
    scope = getattr(function, hookspecs.SCOPE, None)
    if scope is not None:
        return bool(scope == "own")
    spec = getattr(pm.hook, name).spec
    return bool(spec and getattr(spec.function, "scoped", False))


def describe(pm: pluggy.PluginManager) -> list[dict[str, Any]]:
    """The loaded plugins, as an admin checks them: name, version, the hooks each implements
    (the gateway's own built-ins included: they carry its version). Objects registered
    directly have no version."""
    found = available_plugins()
    out = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
        entry = found.get(name)
        version = entry.dist.version if entry is not None and entry.dist else None
        if version is None and type(plugin).__module__.startswith("gateway."):
            version = __version__
        out.append({"name": name, "version": version, "hooks": hooks})
    return out


def is_direct(pm: pluggy.PluginManager, name: str) -> bool:
    spec = getattr(pm.hook, name).spec
    return bool(spec and getattr(spec.function, "direct", False))


def is_firstresult(pm: pluggy.PluginManager, name: str) -> bool:
    spec = getattr(pm.hook, name).spec
    return bool(spec and spec.opts.get("firstresult"))


def applies(impl: Impl, kwargs: dict[str, Any]) -> bool:
    return impl.owner is None or getattr(kwargs.get("provider"), "plugin", None) == impl.owner


class Hooks:
    """Calls hooks the way hookspecs.py documents: awaited, first answer where marked, scoped
    implementations only for their own providers."""

    def __init__(self, pm: pluggy.PluginManager, trace: bool = False) -> None:
        self.pm = pm
        self.trace = trace
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
            direct = is_direct(self.pm, name)
            # pluggy calls implementations last-registered first; keep that order.
            found = []
            for impl in reversed(caller.get_hookimpls()):
                owner = impl.plugin_name if owned(self.pm, name, impl.function) else None
                function = impl.function
                if self.trace:
                    function = traced(name, impl.plugin_name, function, awaited=not direct)
                found.append(Impl(function, tuple(impl.argnames), impl.plugin_name, owner))
            self._impls[name] = found
            self._first[name] = is_firstresult(self.pm, name)
        return found

    def wanted(self, name: str, provider: Any) -> bool:
        """Whether any implementation of the hook would be called for this provider."""
        return any(applies(impl, {"provider": provider}) for impl in self.impls(name))

    async def call(self, name: str, **kwargs: Any) -> Any:
        """Every answer that is not None, in order; for a firstresult hook the first one.

        An implementation that must look something up (in the database, say) before it
        knows may return an awaitable and still abstain with None.
        """
        impls = self.impls(name)
        first = self._first[name]
        results = []
        for impl in impls:
            if impl.owner is not None and not applies(impl, kwargs):
                continue
            result = impl.function(**{k: kwargs[k] for k in impl.argnames if k in kwargs})
            if inspect.isawaitable(result):
                result = await result
            if result is not None:
                if first:
                    return result
                results.append(result)
        return None if first else results

    async def chain(self, name: str, key: str, value: Any, **kwargs: Any) -> Any:
        """Call each implementation with the previous one's result as `key`."""
        for impl in self.impls(name):
            if impl.owner is not None and not applies(impl, kwargs):
                continue
            given = {**kwargs, key: value}
            result = impl.function(**{k: given[k] for k in impl.argnames if k in given})
            if inspect.isawaitable(result):
                result = await result
            if result is not None:
                value = result
        return value

    def call_sync(self, name: str, **kwargs: Any) -> Any:
        """A direct hook, answered at once: the same answers as `call`."""
        impls = self.impls(name)
        first = self._first[name]
        results = []
        for impl in impls:
            if impl.owner is not None and not applies(impl, kwargs):
                continue
            try:
                result = impl.function(**{k: kwargs[k] for k in impl.argnames
                                          if k in kwargs})
            except ConfigError as exc:  # name the plugin whose section is wrong
                raise ConfigError(f"plugin '{impl.plugin}': {exc.detail}") from None
            if inspect.isawaitable(result):
                close = getattr(result, "close", None)
                if close is not None:
                    close()  # never awaited: close it so Python does not warn later
                raise PluginError(f"hook {name} returned an awaitable from plugin "
                                  f"'{impl.plugin}'; it is answered directly and must "
                                  "return its answer, not an awaitable")
            if result is not None:
                if first:
                    return result
                results.append(result)
        return None if first else results
