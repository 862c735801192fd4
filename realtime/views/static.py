"""``/static/…`` under daphne: the pages' CSS/JS (and admin/Swagger assets) served through
the staticfiles finders. daphne has no static handler of its own and Tender ships no CDN or
nginx config; for heavy traffic put a reverse proxy or CDN in front of ``collectstatic``'s
output (STATIC_ROOT) and this view is never reached."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from django.contrib.staticfiles import finders
from django.core.exceptions import SuspiciousFileOperation
from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_GET


@require_GET
def static_file(request: HttpRequest, path: str) -> FileResponse:
    try:
        found = finders.find(path)  # safe_join inside: no traversal out of the static dirs
    except SuspiciousFileOperation as exc:
        raise Http404(path) from exc
    if not found or isinstance(found, list) or not Path(found).is_file():
        raise Http404(path)
    content_type, encoding = mimetypes.guess_type(found)
    response = FileResponse(open(found, "rb"), content_type=content_type or "application/octet-stream")  # noqa: SIM115
    if encoding:
        response["Content-Encoding"] = encoding
    response["Cache-Control"] = "public, max-age=300"
    if path == "checkout.js":
        response["Access-Control-Allow-Origin"] = "*"
    return response
