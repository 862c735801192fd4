"""WSGI entry point: gunicorn's sync workers serve the REST API and pages (config/serving.py).

Django's WSGI request reads ``CONTENT_LENGTH`` bytes of the body, so a request sent with
``Transfer-Encoding: chunked`` and no length (Node's ``http`` does this) would look empty.
gunicorn decodes the chunks; :class:`ChunkedBodyMiddleware` reads them, bounded, and hands
Django the body with its length (the front, nginx, already buffers bodies the same way).
"""

import io
import json
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

from django.conf import settings  # noqa: E402

from common.checks import require_production_secrets  # noqa: E402
from common.correlation import HEADER, correlation_scope  # noqa: E402
from common.http.errors import envelope  # noqa: E402
from common.http.inputs import body_too_large  # noqa: E402
from common.process import process_serving  # noqa: E402

require_production_secrets()


class ChunkedBodyMiddleware:
    """Give a chunked request body a Content-Length; refuse one above ``limit`` with 413."""

    def __init__(self, app, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    def __call__(self, environ, start_response):
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not environ.get("CONTENT_LENGTH"):
            body = environ["wsgi.input"].read(self.limit + 1)
            if len(body) > self.limit:
                return self._too_large(environ, start_response)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)

    def _too_large(self, environ, start_response):
        # Django never sees this request, so the envelope and its correlation id are made here,
        # by the same pieces the API uses.
        with correlation_scope(environ.get("HTTP_X_CORRELATION_ID")) as correlation_id:
            error = body_too_large(self.limit)
            payload = json.dumps(envelope(error.code, error.description, reason=error.reason)).encode()
        start_response(
            "413 Request Entity Too Large",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(payload))),
                (HEADER, correlation_id),
                ("Connection", "close"),
            ],
        )
        return [payload]


application = ChunkedBodyMiddleware(django_application, limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
process_serving()  # every import is done: each gunicorn worker imports this module after its fork
