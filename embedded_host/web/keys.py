"""The host's keys, as Azure Functions keeps them: a master key, a default function key, and the
``durabletask_extension`` system key that the Durable HTTP API asks for.

They are generated on the first start that needs them (a host listening beyond loopback) into
``host-keys.json`` in the data directory, readable by its owner only. The host never logs them; the caller
that started it (``pipeline serve``) shows them once, when they are created.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from embedded_host.functions.config import HostConfigError

__all__ = ["KEYS_FILE", "HostKeys", "load_or_create_keys"]

KEYS_FILE = "host-keys.json"
DURABLE_SYSTEM_KEY = "durabletask_extension"


@dataclass(frozen=True)
class HostKeys:
    """One host's keys; ``accepted(level)`` says which of them open a route of that level."""

    master: str
    function: str
    durable_system: str

    def accepted(self, level: str) -> tuple[str, ...]:
        # As on Azure: the master key opens everything; a function key opens function-level routes only;
        # the Durable API takes its system key.
        if level == "function":
            return (self.function, self.master)
        if level == "system":
            return (self.durable_system, self.master)
        return (self.master,)

    def to_json(self) -> str:
        return json.dumps(
            {
                "masterKey": self.master,
                "functionKeys": {"default": self.function},
                "systemKeys": {DURABLE_SYSTEM_KEY: self.durable_system},
            },
            indent=2,
        )

    @classmethod
    def generate(cls) -> HostKeys:
        return cls(master=_new_key(), function=_new_key(), durable_system=_new_key())

    @classmethod
    def parse(cls, text: str) -> HostKeys:
        data = json.loads(text)
        keys = cls(
            master=data["masterKey"],
            function=data["functionKeys"]["default"],
            durable_system=data["systemKeys"][DURABLE_SYSTEM_KEY],
        )
        if not all(isinstance(k, str) and k for k in (keys.master, keys.function, keys.durable_system)):
            raise ValueError("a key is empty or not a string")
        return keys


def _new_key() -> str:
    # 32 random bytes, URL-safe: a key travels in a `code=` query string without escaping.
    return secrets.token_urlsafe(32)


def load_or_create_keys(data_dir: Path) -> tuple[HostKeys, bool]:
    """The keys under ``data_dir`` (created on first use, owner-only); the flag says they are new."""
    path = Path(data_dir) / KEYS_FILE
    if path.exists():
        _owner_only(path)
        try:
            return HostKeys.parse(path.read_text(encoding="utf-8")), False
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # The message names the file, never its content.
            raise HostConfigError(
                f"{path}: not a readable keys file ({type(exc).__name__}); delete it to generate new keys"
            ) from None
    keys = HostKeys.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{KEYS_FILE}.{os.getpid()}")
    # Created 0600 from the first byte (no window where another user could read it), then moved into place.
    temp.unlink(missing_ok=True)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(keys.to_json())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return keys, True


def _owner_only(path: Path) -> None:
    """Tighten a keys file someone made readable by others (a copy, an archive restore)."""
    if os.name != "posix":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, 0o600)
