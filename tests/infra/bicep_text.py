"""A small reader of Bicep files, enough for the infrastructure tests to check what a template says.

No Bicep compiler can run here, so the tests read the templates as text: this module parses the
declarations (`targetScope`, `param`, `var`, `resource`, `module`, `output`, with decorators) and
object/array literals into Python values. Expressions it does not need to understand (function
calls, property paths, ternaries) are kept as `Expr` text; strings with `${...}` interpolation
are kept as `Interpolated` text. Malformed input (unbalanced brackets, an unknown declaration)
raises `BicepSyntaxError`, so the tests also catch gross syntax mistakes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "BicepFile",
    "BicepSyntaxError",
    "Decl",
    "Expr",
    "Interpolated",
    "Module",
    "Resource",
    "parse_bicep",
    "parse_file",
]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"-?\d+(?=[\s,\]}]|$)")
_CLOSERS = {"(": ")", "[": "]", "{": "}"}


class BicepSyntaxError(ValueError):
    """The text is not Bicep this reader can follow."""


class Expr(str):
    """An expression kept as its source text (e.g. `identity.outputs.clientId`)."""


class Interpolated(str):
    """A string literal with `${...}` holes, kept as its source text without the quotes."""


@dataclass
class Decl:
    """A `param`, `var` or `output`: its type (params and outputs), value and decorators."""

    name: str
    type: str | None
    value: Any
    decorators: dict[str, str] = field(default_factory=dict)


@dataclass
class Resource:
    """A `resource` declaration; `children` are the resources nested in its body."""

    symbol: str
    type: str
    api_version: str
    existing: bool
    condition: str | None
    body: dict[str, Any]
    children: dict[str, Resource] = field(default_factory=dict)
    decorators: dict[str, str] = field(default_factory=dict)


@dataclass
class Module:
    symbol: str
    path: str
    condition: str | None
    body: dict[str, Any]
    decorators: dict[str, str] = field(default_factory=dict)


@dataclass
class BicepFile:
    path: Path | None
    target_scope: str = "resourceGroup"
    params: dict[str, Decl] = field(default_factory=dict)
    vars: dict[str, Decl] = field(default_factory=dict)
    resources: dict[str, Resource] = field(default_factory=dict)
    modules: dict[str, Module] = field(default_factory=dict)
    outputs: dict[str, Decl] = field(default_factory=dict)

    def all_resources(self) -> dict[str, Resource]:
        """Every resource, nested ones under `parent::child` names as Bicep refers to them."""
        found: dict[str, Resource] = {}

        def visit(prefix: str, resources: dict[str, Resource]) -> None:
            for symbol, resource in resources.items():
                name = f"{prefix}::{symbol}" if prefix else symbol
                found[name] = resource
                visit(name, resource.children)

        visit("", self.resources)
        return found


def _strip_comments(text: str) -> str:
    """Remove // and /* */ comments, leaving strings (which may hold `//` in URLs) intact."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "'":
            j = _string_end(text, i)
            out.append(text[i:j])
            i = j
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise BicepSyntaxError("unterminated block comment")
            out.append("\n" * text.count("\n", i, end))
            i = end + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _string_end(text: str, start: int) -> int:
    """Index just past the string literal opening at `start` (handles escapes and `${}` holes)."""
    if text.startswith("'''", start):
        end = text.find("'''", start + 3)
        if end < 0:
            raise BicepSyntaxError("unterminated multi-line string")
        return end + 3
    i = start + 1
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "'":
            return i + 1
        if text.startswith("${", i):
            i = _balanced_end(text, i + 1)
            continue
        if c == "\n":
            raise BicepSyntaxError(f"unterminated string at offset {start}")
        i += 1
    raise BicepSyntaxError(f"unterminated string at offset {start}")


def _balanced_end(text: str, start: int) -> int:
    """Index just past the bracket group opening at `start`."""
    stack = [_CLOSERS[text[start]]]
    i = start + 1
    while i < len(text):
        c = text[i]
        if c == "'":
            i = _string_end(text, i)
            continue
        if c in _CLOSERS:
            stack.append(_CLOSERS[c])
        elif c in ")]}":
            if c != stack.pop():
                raise BicepSyntaxError(f"mismatched {c!r} at offset {i}")
            if not stack:
                return i + 1
        i += 1
    raise BicepSyntaxError(f"unclosed {text[start]!r} at offset {start}")


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip(self, newlines: bool = True) -> None:
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c in " \t\r" or (newlines and c == "\n") or (newlines and c == ","):
                self.pos += 1
            else:
                break

    def at_end(self) -> bool:
        self.skip()
        return self.pos >= len(self.text)

    def peek(self, s: str) -> bool:
        return self.text.startswith(s, self.pos)

    def expect(self, s: str) -> None:
        self.skip(newlines=False)
        if not self.peek(s):
            raise BicepSyntaxError(f"expected {s!r} at offset {self.pos}: {self.text[self.pos : self.pos + 40]!r}")
        self.pos += len(s)

    def ident(self) -> str:
        self.skip(newlines=False)
        match = _IDENT.match(self.text, self.pos)
        if not match:
            raise BicepSyntaxError(f"expected a name at offset {self.pos}: {self.text[self.pos : self.pos + 40]!r}")
        self.pos = match.end()
        return match.group()

    def string(self) -> str:
        self.skip(newlines=False)
        if not self.peek("'"):
            raise BicepSyntaxError(f"expected a string at offset {self.pos}")
        end = _string_end(self.text, self.pos)
        raw = self.text[self.pos + 1 : end - 1]
        self.pos = end
        return raw

    def rest_of_line(self) -> str:
        """An expression: up to the end of the line, brackets and strings balanced."""
        self.skip(newlines=False)
        start = self.pos
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c == "'":
                self.pos = _string_end(self.text, self.pos)
            elif c in _CLOSERS:
                self.pos = _balanced_end(self.text, self.pos)
            elif c in "\n,)]}":
                break
            else:
                self.pos += 1
        expr = self.text[start : self.pos].strip()
        if not expr:
            raise BicepSyntaxError(f"expected a value at offset {start}")
        return expr

    def rest_of_line_until(self, stop: str) -> str:
        """A param's type: up to `=` or the end of the line."""
        self.skip(newlines=False)
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in "\n" + stop:
            self.pos += 1
        type_ = self.text[start : self.pos].strip()
        if not type_:
            raise BicepSyntaxError(f"expected a type at offset {start}")
        self.skip(newlines=False)
        return type_

    def value(self) -> Any:
        self.skip(newlines=False)
        if self.peek("{"):
            return self.obj()
        if self.peek("["):
            return self.array()
        if self.peek("'"):
            start = self.pos
            raw = self.string()
            self.skip(newlines=False)
            if self.pos < len(self.text) and self.text[self.pos] not in "\n,)]}":
                # A string that starts an expression, e.g. 'a' == b ? ...
                self.pos = start
                return Expr(self.rest_of_line())
            return Interpolated(raw) if "${" in raw else raw.replace("\\'", "'")
        expr = self.rest_of_line()
        if expr in ("true", "false"):
            return expr == "true"
        if expr == "null":
            return None
        if _NUMBER.fullmatch(expr):
            return int(expr)
        return Expr(expr)

    def obj(self) -> dict[str, Any]:
        self.expect("{")
        result: dict[str, Any] = {}
        children: dict[str, Resource] = {}
        while True:
            self.skip()
            if self.peek("}"):
                self.pos += 1
                break
            if self.pos >= len(self.text):
                raise BicepSyntaxError("unclosed object")
            decorators = self.decorators()
            if self.peek("'"):
                key = self.string()
            else:
                key = self.ident()
                if key == "resource" and not self.text[self.pos :].lstrip(" \t").startswith(":"):
                    child = self.resource(decorators)
                    children[child.symbol] = child
                    continue
            self.expect(":")
            result[key] = self.value()
        if children:
            result["__resources__"] = children
        return result

    def array(self) -> list[Any]:
        self.expect("[")
        items: list[Any] = []
        while True:
            self.skip()
            if self.peek("]"):
                self.pos += 1
                return items
            if self.pos >= len(self.text):
                raise BicepSyntaxError("unclosed array")
            items.append(self.value())

    def decorators(self) -> dict[str, str]:
        found: dict[str, str] = {}
        while True:
            self.skip()
            if not self.peek("@"):
                return found
            self.pos += 1
            name = self.ident()
            self.skip(newlines=False)
            args = ""
            if self.peek("("):
                end = _balanced_end(self.text, self.pos)
                args = self.text[self.pos + 1 : end - 1].strip()
                self.pos = end
            found[name] = args

    def condition(self) -> str | None:
        self.skip(newlines=False)
        if self.text.startswith("if", self.pos) and not _IDENT.match(self.text, self.pos + 2):
            self.pos += 2
            self.skip(newlines=False)
            if not self.peek("("):
                raise BicepSyntaxError(f"expected '(' after if at offset {self.pos}")
            end = _balanced_end(self.text, self.pos)
            cond = self.text[self.pos + 1 : end - 1].strip()
            self.pos = end
            return cond
        return None

    def resource(self, decorators: dict[str, str]) -> Resource:
        symbol = self.ident()
        type_and_version = self.string()
        kind, _, api = type_and_version.partition("@")
        self.skip(newlines=False)
        existing = False
        if self.text.startswith("existing", self.pos):
            self.pos += len("existing")
            existing = True
        self.expect("=")
        cond = self.condition()
        self.skip(newlines=False)
        if self.peek("["):  # a loop: [for x in xs: {...}]
            raise BicepSyntaxError(f"resource loops are not supported by this reader ({symbol})")
        body = self.obj()
        children: dict[str, Resource] = body.pop("__resources__", {})
        resource = Resource(symbol, kind, api, existing, cond, body, children, decorators)
        if "." in kind.split("/")[0]:  # a full type: qualify the nested ones (relative types have no dot)
            _qualify(resource)
        return resource


def _qualify(parent: Resource) -> None:
    """Nested resources' full types (`queues` under a namespace is `.../namespaces/queues`)."""
    for child in parent.children.values():
        if "." not in child.type.split("/")[0]:
            child.type = f"{parent.type}/{child.type}"
            child.api_version = child.api_version or parent.api_version
        _qualify(child)


def parse_bicep(text: str, path: Path | None = None) -> BicepFile:
    """Parse a Bicep file's declarations."""
    reader = _Reader(_strip_comments(text))
    result = BicepFile(path)
    while not reader.at_end():
        decorators = reader.decorators()
        keyword = reader.ident()
        if keyword == "targetScope":
            reader.expect("=")
            result.target_scope = reader.string()
        elif keyword == "param":
            name = reader.ident()
            type_ = reader.rest_of_line_until("=")
            default = None
            if reader.peek("="):
                reader.pos += 1
                default = reader.value()
            result.params[name] = Decl(name, type_, default, decorators)
        elif keyword == "var":
            name = reader.ident()
            reader.expect("=")
            result.vars[name] = Decl(name, None, reader.value(), decorators)
        elif keyword == "output":
            name = reader.ident()
            type_ = reader.ident()
            reader.expect("=")
            result.outputs[name] = Decl(name, type_, reader.value(), decorators)
        elif keyword == "resource":
            resource = reader.resource(decorators)
            result.resources[resource.symbol] = resource
        elif keyword == "module":
            symbol = reader.ident()
            module_path = reader.string()
            reader.expect("=")
            cond = reader.condition()
            result.modules[symbol] = Module(symbol, module_path, cond, reader.obj(), decorators)
        else:
            raise BicepSyntaxError(f"unknown declaration {keyword!r} at offset {reader.pos}")
    return result


def parse_file(path: Path) -> BicepFile:
    return parse_bicep(path.read_text(encoding="utf-8"), path)
