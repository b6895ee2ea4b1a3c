"""Route templates as the Functions host matches them: ``pipeline/{instance_id}``, ``{id:int}``, ``{*rest}``."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["RouteTemplate"]

_PARAM = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([^}?]+))?(\?)?\}")
_CONSTRAINTS = {
    "int": r"-?\d+",
    "long": r"-?\d+",
    "guid": r"[0-9a-fA-F-]{32,36}",
    "bool": r"(?i:true|false)",
    "alpha": r"[A-Za-z]+",
}


@dataclass
class RouteTemplate:
    """A compiled route template; ``match`` gives route params or None."""

    template: str
    regex: re.Pattern[str]

    @classmethod
    def compile(cls, template: str) -> RouteTemplate:
        pattern = ""
        position = 0
        template = template.strip("/")
        for found in _PARAM.finditer(template):
            pattern += re.escape(template[position : found.start()])
            star, name, constraint, optional = found.groups()
            body = r".*" if star else _CONSTRAINTS.get((constraint or "").split(":")[0].lower(), r"[^/]+")
            group = f"(?P<{name}>{body})"
            if optional:
                # An optional last segment takes its slash with it: "items/{id?}" matches "items".
                if pattern.endswith("/"):
                    pattern = pattern[:-1] + f"(?:/{group})?"
                else:
                    pattern += group + "?"
            else:
                pattern += group
            position = found.end()
        pattern += re.escape(template[position:])
        return cls(template=template, regex=re.compile(f"^{pattern}/?$", re.IGNORECASE))

    def match(self, path: str) -> dict[str, str] | None:
        found = self.regex.match(path.strip("/"))
        if found is None:
            return None
        return {k: v for k, v in found.groupdict().items() if v is not None}
