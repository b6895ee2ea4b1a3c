"""URLs as they may be shown (logs, dead-letter records, the monitor): a webhook URL often carries its secret
in the userinfo or the query (`?token=…`, `?code=…`), so both are hidden and the rest kept recognisable."""

from __future__ import annotations

import logging
import re
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


# (scheme, host[:port], path) of the URLs whose log lines are redacted: matched by place, not by the whole
# string, because a record may already have been reformatted (the host's key redaction rewrites `code=`).
_hidden: set[tuple[str, str, str]] = set()
_lock = threading.Lock()
_URL = re.compile(r"https?://[^\s\"'<>]+")


def _place(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.rpartition("@")[2].lower(), parts.path or "/"


class _HideUrls(logging.Filter):
    """Shows the registered URLs redacted in httpx's own log line (``HTTP Request: POST <url> ...``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record whose args do not fit its format is the handler's to report
            return True
        cleaned = _URL.sub(lambda m: shown_url(m.group(0)) if _is_hidden(m.group(0)) else m.group(0), message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def _is_hidden(url: str) -> bool:
    try:
        return _place(url) in _hidden
    except ValueError:
        return False


def hide_in_http_logs(url: str) -> None:
    """Have httpx log ``url`` as :func:`shown_url` shows it (other URLs, such as a model's, stay as they are)."""
    with _lock:
        if not _hidden:
            logging.getLogger("httpx").addFilter(_HideUrls())
        try:
            _hidden.add(_place(url))
            import httpx

            _hidden.add(_place(str(httpx.URL(url))))  # as httpx prints it (normalised: a path of "/", say)
        except Exception:  # an URL httpx cannot read is never requested, so never logged by it
            pass
