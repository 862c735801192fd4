"""Showing a new secret once, in the admin: a page rendered in the answer to the action that
created it. Never a Django message: messages wait in a cookie (or the session table) until
the next page, so the secret would travel back and forth and rest where it must not. The
page is never cached (``Cache-Control: no-store``, also the site-wide default)."""

from __future__ import annotations

from django.http import HttpRequest
from django.template.response import TemplateResponse


def secret_shown_once(
    request: HttpRequest, *, title: str, secrets: list[tuple[str, str]], continue_url: str, note: str = ""
) -> TemplateResponse:
    """A page listing ``(label, secret)`` pairs with a link on to ``continue_url``."""
    response = TemplateResponse(
        request,
        "admin/secret_shown_once.html",
        {"title": title, "secrets": secrets, "continue_url": continue_url, "note": note},
    )
    response["Cache-Control"] = "no-store"
    return response
