"""Typed settings, read from the environment once (the only place `os.environ` is read)."""

from config.settings import Settings, get_settings

__all__ = ["Settings", "get_settings"]
