"""The Python worker's indexing rules, applied when the host loads an app.

On Azure the worker indexes every function of the app before any runs, with rules the library's decorators do
not check (``azure_functions_worker/functions.py``): every parameter is named by a binding, except ``context``,
which if annotated must be ``func.Context``; every binding names a parameter; annotations are types (or generic
types: ``Optional[...]`` and other unions are not); an output binding's parameter is annotated ``func.Out[T]``,
with one type, and only an output binding's; ``$return`` is an output; no binding is ``inout``. One function
that breaks a rule fails the indexing of the whole app, which then runs no function at all on Azure. The host
refuses such an app at start with the function and the parameter, so the mistake shows locally.
"""

from __future__ import annotations

import collections.abc
import inspect
import typing
from typing import Any

from embedded_host.functions.config import HostConfigError

__all__ = ["IndexingError", "check_indexable"]

_ON_AZURE = "the Python worker on Azure refuses to index such an app, so none of its functions would run"


class IndexingError(HostConfigError):
    """A function the Python worker would refuse to index."""

    def __init__(self, function: str, problem: str) -> None:
        super().__init__(f"function '{function}': {problem} ({_ON_AZURE})")


def _direction(binding: Any) -> str:
    value = getattr(binding.direction, "value", binding.direction)
    return {0: "in", 1: "out", 2: "inout"}.get(value, str(value).lower())


def _is_generic(annotation: Any) -> bool:
    """A generic type as the worker counts it: a Generic class or a subscripted typing generic, not a union,
    tuple, ClassVar or Callable."""
    if isinstance(annotation, type) and issubclass(annotation, typing.Generic):
        return True
    origin = typing.get_origin(annotation)
    aliases = tuple(
        alias
        for alias in (getattr(typing, "_GenericAlias", None), getattr(typing, "_SpecialGenericAlias", None))
        if alias
    )
    return (
        bool(aliases)
        and isinstance(annotation, aliases)
        and origin not in (typing.Union, tuple, typing.ClassVar, collections.abc.Callable)
    )


def _is_out(annotation: Any) -> bool:
    origin = typing.get_origin(annotation) if _is_generic(annotation) else None
    marked = origin if origin is not None else annotation
    return isinstance(marked, type) and marked.__name__ == "Out"


def _shown(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or repr(annotation)


def check_indexable(function: Any) -> None:
    """Raise :class:`IndexingError` when the worker would not index ``function`` (a library ``Function``)."""
    name = function.get_function_name()
    func = function.get_user_function()
    params = dict(inspect.signature(func).parameters)
    try:
        annotations = typing.get_type_hints(func)
    except Exception as exc:  # the worker evaluates them too, and fails the same way
        raise IndexingError(name, f"its annotations cannot be evaluated: {type(exc).__name__}: {exc}") from None
    bound: dict[str, Any] = {}
    returns = False
    for binding in function.get_bindings():
        direction = _direction(binding)
        if direction == "inout":
            raise IndexingError(name, f"binding '{binding.name}' is inout, which Python functions cannot have")
        if binding.name == "$return":
            if direction != "out":
                raise IndexingError(name, "its $return binding must have the direction out")
            returns = True
            continue
        bound[binding.name] = binding
    if "context" in params and "context" not in bound:
        params.pop("context")
        if "context" in annotations:
            hint = annotations["context"]
            if not isinstance(hint, type) or hint.__name__ != "Context":
                raise IndexingError(
                    name, f"parameter 'context' must be annotated func.Context (or not at all), not {_shown(hint)}"
                )
    for param in params:
        if param not in bound:
            raise IndexingError(name, f"parameter '{param}' is named by no binding")
    for binding_name in bound:
        if binding_name not in params:
            raise IndexingError(name, f"binding '{binding_name}' names no parameter of the function")
    for param in params:
        _check_parameter(name, param, annotations, output=_direction(bound[param]) == "out")
    if returns and "return" in annotations:
        hint = annotations["return"]
        if _is_out(hint):
            raise IndexingError(name, "its return annotation must not be func.Out")
        if not isinstance(hint, type):
            raise IndexingError(name, f"its return annotation {_shown(hint)} is not a type")


def _check_parameter(function: str, param: str, annotations: dict[str, Any], *, output: bool) -> None:
    if param not in annotations:
        return
    hint = annotations[param]
    is_out = _is_out(hint)
    value_type = hint
    if is_out:
        args = typing.get_args(hint)
        if len(args) != 1:
            raise IndexingError(
                function, f"parameter '{param}' has an invalid Out annotation (give one type: func.Out[str])"
            )
        value_type = args[0]
    if not isinstance(value_type, type) and not _is_generic(value_type):
        raise IndexingError(function, f"parameter '{param}' has the annotation {_shown(hint)}, which is not a type")
    if output and not is_out:
        raise IndexingError(
            function, f"parameter '{param}' is an output binding, so it must be annotated func.Out[...]"
        )
    if is_out and not output:
        raise IndexingError(function, f"parameter '{param}' is annotated func.Out, but its binding is an input")
