"""Typed settings, read from the environment once: the only reader of the app's settings.

(`cli/state_folder.py` runs before it, and only fills the environment from the user settings file.)
"""

from config.settings import Settings, SettingsError, get_settings

__all__ = ["Settings", "SettingsError", "get_settings"]
