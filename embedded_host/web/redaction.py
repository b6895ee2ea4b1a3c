"""Keys kept out of the log: ``code=`` values are redacted from every log record made in the process.

A key travels in a URL's ``code`` query parameter, and URLs reach logs the host does not write itself:
aiohttp's server logs a request line it cannot parse (over 8 KiB, a byte that is not ASCII) with its
traceback, and an app may log its own URLs. So the filter sits where every record is made (the log record
factory), not on one logger, and it redacts the formatted message and the traceback text alike.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

__all__ = ["install_log_redaction", "redact_keys"]

# `code=` at the start of a query parameter (after ?, &, ; or a word boundary), up to the end of its value.
_CODE = re.compile(r"(?i)(?<![A-Za-z0-9_])(code=)[^&\s'\"#;,)\]]+")
_REDACTED = "***"
_installed = False
_lock = threading.Lock()


def redact_keys(text: str) -> str:
    """``text`` with every ``code=`` value replaced."""
    return _CODE.sub(rf"\1{_REDACTED}", text) if "code=" in text.lower() else text


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a record whose args do not fit its format is the handler's to report
        return
    cleaned = redact_keys(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None
    if record.exc_info and not record.exc_text:
        # Formatted now, once, so that every handler prints the redacted text (formatters reuse exc_text).
        record.exc_text = redact_keys(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact_keys(record.stack_info)


def install_log_redaction() -> None:
    """Redact ``code=`` values from every log record made in this process from now on (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _redact_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
