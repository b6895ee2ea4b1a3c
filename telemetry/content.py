"""Whether question and answer text may be recorded in telemetry (off unless opted in).

Questions can carry personal data, so text goes into spans only when `PIPELINE_RECORD_CONTENT=true`.
"""

from __future__ import annotations

from config import get_settings

__all__ = ["record_content"]


def record_content() -> bool:
    """The `PIPELINE_RECORD_CONTENT` setting, read from the process's cached settings."""
    return get_settings().pipeline_record_content
