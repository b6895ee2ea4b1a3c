"""URLs as they may be shown (logs, dead-letter records, the monitor): a webhook URL often carries its secret
in the userinfo or the query (`?token=…`, `?code=…`), so both are hidden and the rest kept recognisable."""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit, urlunsplit

__all__ = ["hide_in_http_logs", "shown_url"]

_HIDDEN = "***"


def shown_url(url: str) -> str:
    """``url`` without userinfo and with every query value hidden; scheme, host, port and path stay."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _HIDDEN
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{_HIDDEN}@{host}" if host != parts.netloc else host
    query = "&".join(
        f"{item.partition('=')[0]}={_HIDDEN}" if "=" in item else _HIDDEN for item in parts.query.split("&")
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query if parts.query else "", ""))


_hidden: set[str] = set()
_lock = threading.Lock()


class _HideUrls(logging.Filter):
    """Shows the registered URLs redacted in httpx's own log line (``HTTP Request: POST <url> ...``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(str(arg) in _hidden for arg in record.args):
            record.args = tuple(shown_url(str(arg)) if str(arg) in _hidden else arg for arg in record.args)
        return True


def hide_in_http_logs(url: str) -> None:
    """Have httpx log ``url`` as :func:`shown_url` shows it (other URLs, such as a model's, stay as they are)."""
    with _lock:
        if not _hidden:
            logging.getLogger("httpx").addFilter(_HideUrls())
        _hidden.add(url)
        try:
            import httpx

            _hidden.add(str(httpx.URL(url)))  # as httpx prints it (normalised: a path of "/", say)
        except Exception:  # an URL httpx cannot read is never requested, so never logged by it
            pass
