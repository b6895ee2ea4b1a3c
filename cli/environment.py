"""Where the CLI finds the app and its state, and the settings the embedded host must resolve.

The Functions host resolves `%SETTING%` binding expressions from app settings; locally those
come from the environment, so the documented defaults are put there before the host starts.
"""

from __future__ import annotations

import os
from pathlib import Path

from config import Settings, get_settings

__all__ = ["APP_DIR", "data_dir", "prepare_binding_settings", "settings"]

APP_DIR = Path(__file__).resolve().parent.parent


def settings() -> Settings:
    return get_settings()


def data_dir() -> Path:
    return settings().pipeline_data_dir.resolve()


def prepare_binding_settings() -> None:
    s = settings()
    os.environ.setdefault("PIPELINE_QUEUE_NAME", s.pipeline_queue_name)
    os.environ.setdefault("PIPELINE_DEAD_LETTER_QUEUE_NAME", s.pipeline_dead_letter_queue_name)
