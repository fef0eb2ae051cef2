"""Lazy, cached discovery of plugins through entry points.

Modelled on xarray's backend entry points: listing names reads only package metadata;
a plugin module is imported on first use and cached; ``refresh()`` forgets the cache.
A broken plugin is named in a :class:`~tsbudget.errors.PluginWarning` (group, name,
``module:attr``, distribution, cause) while the others still load; anything its import
raises counts (``SystemExit`` and ``GeneratorExit`` included), except ``KeyboardInterrupt``.
"""

from __future__ import annotations

import importlib
import importlib.metadata as metadata
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from tsbudget.cost_model import CostModel
from tsbudget.data_unit import DataUnit
from tsbudget.errors import InputError, PluginError, PluginNotFoundError, PluginTypeError, PluginWarning
from tsbudget.law import Law

__all__ = ["Registry", "PluginInfo", "units", "costmodels", "laws", "registries"]


@attrs.frozen
class PluginInfo:
    """What the registry knows of one plugin, for listings."""

    kind: str
    name: str
    value: str
    distribution: str
    description: str
    citation: str

    def to_dict(self) -> dict:
        return attrs.asdict(self)


def _distribution(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else "(no distribution)"


class Registry:
    """The plugins of one entry-point ``group`` that subclass ``base``.

    ``entry_points`` replaces the installed metadata (a callable returning EntryPoint
    objects); tests use it to register plugins without installing anything.
    """

    def __init__(
        self,
        group: str,
        base: type,
        kind: str,
        entry_points: Callable[[], Iterable[metadata.EntryPoint]] | None = None,
    ):
        self.group = group
        self.base = base
        self.kind = kind
        self._source = entry_points or (lambda: metadata.entry_points(group=group))
        self._eps: dict[str, metadata.EntryPoint] | None = None
        self._loaded: dict[str, type] = {}
        self._added: dict[str, type] = {}

    def __repr__(self) -> str:
        return f"Registry({self.group!r}, names={self.names()})"

    # -- discovery -----------------------------------------------------------------
    def _entry_points(self) -> dict[str, metadata.EntryPoint]:
        if self._eps is None:
            eps: dict[str, metadata.EntryPoint] = {}
            for ep in self._source():
                if ep.name in eps and eps[ep.name].value != ep.value:
                    warnings.warn(
                        f"{self.group}: plugin name {ep.name!r} is claimed by {eps[ep.name].value} "
                        f"({_distribution(eps[ep.name])}) and by {ep.value} ({_distribution(ep)}); "
                        "keeping the first",
                        PluginWarning,
                        stacklevel=3,
                    )
                    continue
                eps.setdefault(ep.name, ep)
            self._eps = eps
        return self._eps

    def names(self) -> list[str]:
        """Installed plugin names, sorted; reads metadata only, imports nothing."""
        return sorted(set(self._entry_points()) | set(self._added))

    def __contains__(self, name: str) -> bool:
        return name in self.names()

    def refresh(self) -> None:
        """Forget discovered entry points and loaded plugins (after installing a package)."""
        importlib.invalidate_caches()
        self._eps = None
        self._loaded.clear()

    def add(self, name: str, plugin: type) -> None:
        """Register a class at run time (a notebook, a test) without an entry point."""
        self._validate(name, plugin, f"{getattr(plugin, '__module__', '?')}:{plugin.__qualname__}", "(runtime)")
        self._added[name] = plugin

    # -- loading -------------------------------------------------------------------
    def _validate(self, name: str, plugin: Any, value: str, dist: str) -> type:
        where = f"{self.group} plugin {name!r} ({value}, {dist})"
        if not (isinstance(plugin, type) and issubclass(plugin, self.base)):
            raise PluginTypeError(f"{where} is {plugin!r}, not a subclass of {self.base.__qualname__}")
        if getattr(plugin, "__abstractmethods__", None):
            missing = ", ".join(sorted(plugin.__abstractmethods__))
            raise PluginTypeError(f"{where} does not implement {missing}")
        for attr in ("name", "description"):
            if not isinstance(getattr(plugin, attr, None), str):
                raise PluginTypeError(f"{where} lacks the class attribute {attr!r} (a str)")
        if plugin.name != name:
            raise PluginTypeError(f"{where} declares name {plugin.name!r}, registered as {name!r}")
        return plugin

    def get(self, name: str) -> type:
        """The plugin class registered as ``name``; loads and validates it on first use."""
        if name in self._added:
            return self._added[name]
        if name in self._loaded:
            return self._loaded[name]
        eps = self._entry_points()
        if name not in eps:
            installed = ", ".join(self.names()) or "none"
            raise PluginNotFoundError(f"no {self.kind} named {name!r}; installed: {installed}")
        ep = eps[name]
        try:
            plugin = ep.load()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # anything third-party code raises at import, SystemExit included
            raise PluginError(
                f"{self.group} plugin {name!r} ({ep.value}, {_distribution(ep)}) failed to load: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        self._loaded[name] = self._validate(name, plugin, ep.value, _distribution(ep))
        return self._loaded[name]

    def load_all(self) -> dict[str, type]:
        """Every plugin that loads; each broken one is named in a PluginWarning and skipped."""
        out = {}
        for name in self.names():
            try:
                out[name] = self.get(name)
            except (PluginError, PluginTypeError) as exc:
                warnings.warn(str(exc), PluginWarning, stacklevel=2)
        return out

    def resolve(self, obj: Any, **settings) -> Any:
        """An instance from a registered name, a plugin class, or an instance (returned as is).
        A setting the plugin does not have is an InputError listing the ones it has."""
        if isinstance(obj, self.base):
            if settings:
                self._check_settings(type(obj), settings)
                return attrs.evolve(obj, **settings)
            return obj
        if isinstance(obj, str):
            obj = self.get(obj)
        if isinstance(obj, type) and issubclass(obj, self.base):
            self._check_settings(obj, settings)
            try:
                return obj(**settings)
            except TypeError as exc:
                raise PluginTypeError(f"{self.kind} {obj.name!r}: bad settings {settings}: {exc}") from exc
        raise PluginTypeError(f"expected a {self.kind} name or {self.base.__qualname__}, got {obj!r}")

    def _check_settings(self, plugin: type, settings) -> None:
        if not attrs.has(plugin):
            return
        known = [getattr(f, "alias", None) or f.name for f in attrs.fields(plugin) if f.init]
        unknown = sorted(set(settings) - set(known))
        if unknown:
            raise InputError(
                f"{self.kind} {plugin.name!r} has no setting {unknown[0]!r}; its settings are "
                f"{', '.join(known) or 'none'}"
            )

    def info(self) -> list[PluginInfo]:
        """One :class:`PluginInfo` per plugin that loads (broken ones warned about)."""
        eps = self._entry_points()
        rows = []
        for name, plugin in self.load_all().items():
            ep = eps.get(name)
            rows.append(
                PluginInfo(
                    kind=self.kind,
                    name=name,
                    value=ep.value if ep else f"{plugin.__module__}:{plugin.__qualname__}",
                    distribution=_distribution(ep) if ep else "(runtime)",
                    description=plugin.description,
                    citation=getattr(plugin, "citation", ""),
                )
            )
        return rows


units = Registry("tsbudget.units", DataUnit, "data unit")
costmodels = Registry("tsbudget.costmodels", CostModel, "cost model")
laws = Registry("tsbudget.laws", Law, "law")
registries = {"unit": units, "costmodel": costmodels, "law": laws}
