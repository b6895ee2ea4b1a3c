"""Who may talk to the embedded host: a Host allow-list, the same-origin rule for state changes, and keys.

A browser is the tool of attack against a server on 127.0.0.1: any page the developer visits can send it a
"simple" cross-site POST (no preflight needed) and, through a domain that re-resolves to 127.0.0.1 (DNS
rebinding), read its answers as same-origin. The Host check stops rebinding (the browser sends the attacker's
name); the Origin check stops cross-site state changes (the browser sends the attacker's origin). Neither
stops a program on the network, so when the host listens beyond loopback, routes need keys as on Azure.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware

from embedded_host.web.keys import HostKeys
from embedded_host.web.responses import problem

__all__ = [
    "KEY_HEADER",
    "KEY_QUERY",
    "AccessLevel",
    "AccessPolicy",
    "Handler",
    "access_middleware",
    "is_loopback",
    "require_key",
    "unauthorized",
]

# Function auth levels as the bindings declare them, plus "system" for the Durable extension's webhooks.
AccessLevel = Literal["anonymous", "function", "admin", "system"]

KEY_HEADER = "x-functions-key"
KEY_QUERY = "code"
STATE_CHANGING = frozenset({"POST", "PUT", "DELETE", "PATCH"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_loopback(host: str) -> bool:
    """Whether listening on ``host`` keeps the port on this machine."""
    if host.lower() == "localhost":
        return True
    ip = _ip(host)
    return ip is not None and ip.is_loopback


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return None
    # ::ffff:127.0.0.1 is loopback too (Python 3.11 does not say so for the IPv6 form).
    mapped = getattr(ip, "ipv4_mapped", None)
    return mapped or ip


def _split_host(value: str) -> tuple[str, int | None] | None:
    """``name[:port]`` or ``[v6][:port]`` → (lower-case name, port); None for what no client should send."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port = rest[1:]
    elif value.count(":") <= 1:
        name, _, port = value.partition(":")
    else:
        return None  # an IPv6 address without brackets is not a valid Host
    if port and (not port.isdigit() or int(port) > 65535):
        return None  # no such port: a URL built from it would not parse
    name = name.rstrip(".")  # "localhost." is the same name, fully qualified
    return (name, int(port) if port else None) if name else None


@dataclass(frozen=True)
class AccessPolicy:
    """What one listener accepts. ``keys`` is None on loopback: as under ``func start``, no key is asked there."""

    bound_host: str
    allowed_hosts: frozenset[str] = frozenset()
    keys: HostKeys | None = None

    @classmethod
    def create(cls, bound_host: str, allowed_hosts: Iterable[str], keys: HostKeys | None) -> AccessPolicy:
        names = frozenset(h.strip().lower().rstrip(".") for h in allowed_hosts if h.strip())
        return cls(bound_host=bound_host, allowed_hosts=names, keys=keys)

    def host_allowed(self, header: str | None) -> bool:
        parsed = _split_host(header) if header else None
        if parsed is None:
            return False
        name = parsed[0]
        if name in ("localhost", self.bound_host.lower()) or name in self.allowed_hosts:
            return True
        ip = _ip(name)
        if ip is None:
            return False  # a DNS name nobody allowed: what a rebinding page sends
        if ip.is_loopback:
            return True
        # Bound to every interface, any of this machine's addresses may be asked for; an address literal
        # cannot be rebound, so it is no rebinding risk.
        bound = _ip(self.bound_host) if self.bound_host else ipaddress.ip_address("0.0.0.0")
        return bound is not None and bound.is_unspecified

    def same_origin(self, origin: str, header: str | None) -> bool:
        """Whether a browser's ``Origin`` names the host the request went to (name and port)."""
        parts = urlsplit(origin.strip())
        host = _split_host(header) if header else None
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or host is None:
            return False  # "null" (sandboxed frames, file:) included
        try:
            origin_port = parts.port or _DEFAULT_PORTS[parts.scheme]
        except ValueError:
            return False
        # The scheme is left out: behind a TLS proxy the page is https and the request reaching us is http.
        host_port = host[1] or _DEFAULT_PORTS[parts.scheme]
        return parts.hostname.rstrip(".") == host[0] and origin_port == host_port

    def key_allows(self, request: web.BaseRequest, level: AccessLevel) -> bool:
        if self.keys is None or level == "anonymous":
            return True
        presented = request.headers.get(KEY_HEADER) or request.query.get(KEY_QUERY)
        if not presented:
            return False
        # aiohttp hands undecodable header bytes over as surrogates: compared as they came, they match no key.
        given = presented.encode("utf-8", "surrogateescape")
        # Every accepted key is compared, in constant time, so timing tells nothing about which one is close.
        matches = [hmac.compare_digest(given, key.encode()) for key in self.keys.accepted(level)]
        return any(matches)


def _same_authority(authority: str, host: str | None) -> bool:
    target = _split_host(authority)
    return target is not None and host is not None and target == _split_host(host)


def unauthorized(level: AccessLevel) -> web.Response:
    which = {
        "function": "a function key (or the master key)",
        "admin": "the master key",
        "system": "the durabletask_extension system key (or the master key)",
    }.get(level, "a key")
    return problem(
        401,
        "Unauthorized",
        f"This route needs {which}, in the {KEY_HEADER} header or the {KEY_QUERY} query parameter.",
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def require_key(policy: AccessPolicy, level: AccessLevel, handler: Handler) -> Handler:
    """``handler`` behind the key check of ``level`` (a no-op on loopback)."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        if not policy.key_allows(request, level):
            return unauthorized(level)
        return await handler(request)

    return guarded


def access_middleware(policy: AccessPolicy) -> Middleware:
    """The Host and Origin checks, before any route (keys are checked per route, which knows its level)."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get("Host")
        if not policy.host_allowed(host):
            shown = (host or "").strip()[:100]
            return problem(
                421,
                "Misdirected Request",
                f"This host does not answer to the name '{shown}': it is not the address it listens on, "
                "localhost, or an allowed host name.",
            )
        if not _same_authority(request.url.raw_authority, host):
            # aiohttp builds the URL from an absolute-form target (`POST http://other/...`), not from Host, and
            # every link the host and the app hand out comes from that URL: both must name the same host.
            return problem(
                421,
                "Misdirected Request",
                "An absolute request target must name the same host and port as the Host header.",
            )
        origin = request.headers.get("Origin")
        if request.method.upper() in STATE_CHANGING and origin is not None and not policy.same_origin(origin, host):
            return problem(
                403,
                "Forbidden",
                "A request that changes state must come from this host's own origin: cross-site requests are refused.",
            )
        return await handler(request)

    return check
