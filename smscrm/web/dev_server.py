"""The development server's request log (`smscrm serve`), kept to what gunicorn's (gunicorn.conf.py) shows: the
method, the path without its query string (a member search may be a phone number), the status and the size."""
from __future__ import annotations

from urllib.parse import urlsplit

from werkzeug.serving import WSGIRequestHandler


class RequestHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        method, path = getattr(self, "command", "-"), urlsplit(getattr(self, "path", "") or "").path
        self.log("info", '"%s %s %s" %s %s', method, path, getattr(self, "request_version", "-"), code, size)
