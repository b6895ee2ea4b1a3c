"""Load a Functions Python v2 app folder by path and classify its functions by trigger.

The host imports nothing of the app's packages: it puts the app folder on ``sys.path`` (as the worker does),
imports ``function_app.py`` by path, reads ``app.get_functions()`` once (a second call raises in the library)
and keeps, per function, what the trigger and bindings say, with ``%SETTING%`` expressions resolved.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedded_host.functions.config import HostConfig, HostConfigError, load_app_settings, resolve_expression
from embedded_host.functions.indexing import check_indexable

__all__ = ["FunctionSpec", "LoadedApp", "OutputBinding", "load_app"]

_ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE")


@dataclass(frozen=True)
class OutputBinding:
    """A Service Bus queue output binding (``func.Out[...]`` parameter)."""

    name: str
    queue_name: str
    connection: str | None


@dataclass
class FunctionSpec:
    """One function of the app, as the host dispatches it."""

    name: str
    kind: str  # "http" | "serviceBus" | "orchestration" | "activity" | "entity" | "other"
    func: Callable[..., Any]
    trigger_name: str
    is_async: bool
    accepts_context: bool
    route: str | None = None
    methods: tuple[str, ...] = ()
    auth_level: str | None = None
    queue_name: str | None = None
    connection: str | None = None
    client_binding: str | None = None
    outputs: list[OutputBinding] = field(default_factory=list)
    trigger_type: str = ""
    entity_name: str | None = None  # an entity trigger's entity name (the function name unless set)


@dataclass
class LoadedApp:
    """The app folder, its settings and its functions."""

    app_dir: Path
    settings: dict[str, str]
    config: HostConfig
    functions: dict[str, FunctionSpec]

    def of_kind(self, kind: str) -> list[FunctionSpec]:
        return [f for f in self.functions.values() if f.kind == kind]


def _value(raw: Any) -> Any:
    """Binding dicts hold enums (``HttpMethod.GET``); the host wants their plain values."""
    return getattr(raw, "value", raw)


def _find_app_object(module: Any, path: Path) -> Any:
    app = getattr(module, "app", None)
    if app is not None and hasattr(app, "get_functions"):
        return app
    for value in vars(module).values():  # the worker accepts any FunctionApp instance in the module
        if hasattr(value, "get_functions") and hasattr(value, "register_functions"):
            return value
    raise HostConfigError(f"{path}: no FunctionApp object (expected e.g. `app = df.DFApp()`)")


def _import_function_app(app_dir: Path) -> Any:
    path = app_dir / "function_app.py"
    if not path.exists():
        raise HostConfigError(f"{app_dir}: no function_app.py")
    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    # A unique module name keeps two hosted apps (tests) from sharing a cached module object.
    module_name = f"function_app__{abs(hash(str(app_dir))):x}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise HostConfigError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def _classify(fn: Any, settings: Mapping[str, str]) -> FunctionSpec:
    name = fn.get_function_name()
    func = fn.get_user_function()
    bindings = [b.get_dict_repr() for b in fn.get_bindings()]
    where = f"function '{name}'"
    target = inspect.unwrap(func) if not hasattr(func, "client_function") else func.client_function
    params = inspect.signature(target).parameters
    spec = FunctionSpec(
        name=name,
        kind="other",
        func=func,
        trigger_name="",
        is_async=inspect.iscoroutinefunction(func),
        accepts_context="context" in params,
    )
    for binding in bindings:
        btype = str(_value(binding.get("type")))
        direction = _value(binding.get("direction"))
        bname = str(binding.get("name"))
        if btype == "httpTrigger":
            spec.kind, spec.trigger_name, spec.trigger_type = "http", bname, btype
            route = binding.get("route") or name
            spec.route = resolve_expression(str(route), settings, where=where).strip("/")
            methods = binding.get("methods") or _ALL_METHODS
            spec.methods = tuple(str(_value(m)).upper() for m in methods)
            spec.auth_level = str(_value(binding.get("authLevel") or "function"))
        elif btype == "serviceBusTrigger":
            spec.kind, spec.trigger_name, spec.trigger_type = "serviceBus", bname, btype
            queue = binding.get("queueName") or binding.get("topicName")
            if not queue:
                raise HostConfigError(f"{where}: serviceBusTrigger without queueName")
            spec.queue_name = resolve_expression(str(queue), settings, where=where)
            spec.connection = binding.get("connection")
        elif btype == "orchestrationTrigger":
            spec.kind, spec.trigger_name, spec.trigger_type = "orchestration", bname, btype
        elif btype == "activityTrigger":
            spec.kind, spec.trigger_name, spec.trigger_type = "activity", bname, btype
        elif btype == "entityTrigger":
            spec.kind, spec.trigger_name, spec.trigger_type = "entity", bname, btype
            spec.entity_name = str(binding.get("entityName") or name)
        elif btype == "durableClient":
            spec.client_binding = bname
        elif btype == "serviceBus" and direction in (1, "out", "OUT"):
            queue = binding.get("queueName") or binding.get("topicName")
            if not queue:
                raise HostConfigError(f"{where}: serviceBus output '{bname}' without queueName")
            spec.outputs.append(
                OutputBinding(
                    name=bname,
                    queue_name=resolve_expression(str(queue), settings, where=where),
                    connection=binding.get("connection"),
                )
            )
        elif btype in ("http",) or bname == "$return":
            continue
    if spec.kind != "other":
        # The library wraps orchestrators in a sync `handle`; everything else keeps the user's own signature.
        spec.is_async = inspect.iscoroutinefunction(func)
    return spec


def load_app(app_dir: Path) -> LoadedApp:
    """Import ``app_dir/function_app.py`` and describe its functions (call once per app folder)."""
    app_dir = app_dir.resolve()
    settings = load_app_settings(app_dir)
    # `func` exports local.settings.json Values to the worker's environment; the app reads them from there.
    for key, value in settings.items():
        os.environ.setdefault(key, value)
    config = HostConfig.load(app_dir, settings)
    module = _import_function_app(app_dir)
    app = _find_app_object(module, app_dir / "function_app.py")
    functions: dict[str, FunctionSpec] = {}
    for fn in app.get_functions():
        check_indexable(fn)  # what the Python worker refuses on Azure is refused here too
        spec = _classify(fn, settings)
        if spec.name in functions:
            raise HostConfigError(f"two functions named '{spec.name}'")
        functions[spec.name] = spec
    return LoadedApp(app_dir=app_dir, settings=settings, config=config, functions=functions)
