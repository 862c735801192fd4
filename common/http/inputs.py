"""The input layer: every byte a client sends passes here before any view, serializer or
service sees it, and anything PostgreSQL, psycopg or the parsers would choke on is refused
with a 400 (413 for size, 415 for media type) in the error envelope, naming the field and
the reason. Nothing has been written when a request is refused here.

Two entry points, one set of rules:

- :class:`RequestInputMiddleware` (every HTTP request, API or not): the path, the query
  string and every header value must be valid UTF-8 without NUL bytes (lone surrogates cannot
  survive strict UTF-8 decoding, so they are refused as invalid UTF-8); a declared body
  length above ``API_MAX_BODY_BYTES`` under ``/api/`` is a 413 before a byte is read.
- :func:`json_loads` (every JSON body and websocket frame: the payments API views, DRF's
  parser via :class:`StrictJSONParser`, the dashboard's JSON views, provider webhooks, the
  sockets): strict UTF-8, no NUL bytes or lone surrogates in any string or key, nesting at
  most ``MAX_JSON_DEPTH`` deep, integers within 64 bits, no NaN/Infinity.

Reasons (stable, in ``error.reason``): ``nul_byte``, ``lone_surrogate``, ``invalid_utf8``,
``too_deep``, ``integer_out_of_range``, ``invalid_number``, ``malformed_body``,
``body_too_large`` (413), ``unsupported_media_type`` (415), ``invalid_content_length``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from rest_framework.parsers import BaseParser

from common.errors import BAD_REQUEST_ERROR, DomainError, InvalidInput
from common.http.errors import ApiError, domain_error_response

# Deep enough for every body the API accepts (the deepest is card inside a payment: 2),
# shallow enough that no parser or walker recurses far on hostile input.
MAX_JSON_DEPTH = 32
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
JSON = "application/json"

_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
_REPERCENTED = re.compile("%[89A-F][0-9A-F]")


def _text_reason(value: str) -> str | None:
    found = _BAD_TEXT.search(value)
    if found is None:
        return None
    return "nul_byte" if found.group() == "\x00" else "lone_surrogate"


def _refusal(reason: str, field: str | None) -> InvalidInput:
    what = {
        "nul_byte": "contains a NUL byte",
        "lone_surrogate": "contains a lone UTF-16 surrogate",
        "invalid_utf8": "is not valid UTF-8",
    }[reason]
    return InvalidInput(f"{field or 'the request'} {what}", field=field, reason=reason)


# Paths whose contract needs a larger body than API_MAX_BODY_BYTES: a 1,000-item batch.
LARGE_BODY_PATHS = {"/api/v1/payments/batch": "API_BATCH_MAX_BODY_BYTES"}


def body_cap(request: HttpRequest) -> int:
    """The body size limit of this request's path."""
    name = LARGE_BODY_PATHS.get(request.path_info)
    return getattr(settings, name) if name else settings.API_MAX_BODY_BYTES


def body_too_large(cap: int | None = None) -> ApiError:
    return ApiError(
        f"Request body exceeds {cap or settings.API_MAX_BODY_BYTES} bytes",
        code=BAD_REQUEST_ERROR,
        status=413,
        reason="body_too_large",
    )


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(
        f"Unsupported media type {content_type!r}; send application/json",
        status=415,
        reason="unsupported_media_type",
    )


# --- JSON ---------------------------------------------------------------------------


class _IntegerOutOfRange(ValueError):
    pass


class _OutOfRangeMarker:
    """Stands in for an out-of-range integer on the (error-only) second parse that finds
    its field."""


def _int64(text: str) -> int:
    # Python's int() would happily build a 4,300-digit integer; PostgreSQL's BIGINT would not.
    if len(text) > 20:
        raise _IntegerOutOfRange(text)
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise _IntegerOutOfRange(text)
    return value


def _int64_or_marker(text: str) -> int | _OutOfRangeMarker:
    try:
        return _int64(text)
    except _IntegerOutOfRange:
        return _OutOfRangeMarker()


def _refuse_constant(name: str) -> None:
    raise InvalidInput(f"{name} is not a JSON number", reason="invalid_number")


def _dotted(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _walk(value: Any, path: str, depth: int) -> None:
    """Depth, strings and keys of a parsed document; raises naming the first bad field.
    ``depth`` counts the containers around ``value`` (a flat object's values are at 1)."""
    if isinstance(value, str):
        reason = _text_reason(value)
        if reason:
            raise _refusal(reason, path or None)
        return
    if isinstance(value, dict | list) and depth >= MAX_JSON_DEPTH:
        raise InvalidInput(f"JSON nests deeper than {MAX_JSON_DEPTH} levels", field=path or None, reason="too_deep")
    if isinstance(value, dict):
        for key, item in value.items():
            reason = _text_reason(key)
            if reason:
                raise _refusal(reason, _dotted(path, "<key>"))
            _walk(item, _dotted(path, key), depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, _dotted(path, index), depth + 1)
    elif isinstance(value, _OutOfRangeMarker):
        raise InvalidInput(
            "integers must fit in 64 bits (-2^63 .. 2^63-1)", field=path or None, reason="integer_out_of_range"
        )


def _needs_walk(text: str) -> bool:
    """Only a ``\\u`` escape can smuggle a NUL or a lone surrogate past strict UTF-8
    decoding (a raw NUL is refused before), and only many brackets can nest deep: the
    common small body skips the walk entirely."""
    return "\\u" in text or text.count("[") + text.count("{") > MAX_JSON_DEPTH


def json_loads(raw: bytes | str) -> Any:
    """Parse one JSON document under the input layer's rules, or raise ``InvalidInput``
    (the field is the dotted path of the offending value, ``card.number``, ``items.3``)."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _refusal("invalid_utf8", None) from None
    else:
        text = raw
        if _text_reason(text) == "lone_surrogate":
            raise _refusal("lone_surrogate", None)
    if "\x00" in text:
        raise _refusal("nul_byte", None)
    try:
        value = json.loads(text, parse_int=_int64, parse_constant=_refuse_constant)
    except _IntegerOutOfRange:
        _walk(json.loads(text, parse_int=_int64_or_marker, parse_constant=_refuse_constant), "", 0)
        raise AssertionError("unreachable: the walk names the integer") from None
    except RecursionError:
        raise InvalidInput(f"JSON nests deeper than {MAX_JSON_DEPTH} levels", reason="too_deep") from None
    except ValueError:
        raise InvalidInput("Malformed JSON body", reason="malformed_body") from None
    if _needs_walk(text):
        _walk(value, "", 0)
    return value


# --- bodies ---------------------------------------------------------------------------


def declared_length(request: HttpRequest) -> int:
    raw = request.META.get("CONTENT_LENGTH") or "0"
    try:
        length = int(raw)
    except ValueError:
        raise InvalidInput(
            "Content-Length must be an integer", field="Content-Length", reason="invalid_content_length"
        ) from None
    if length < 0:
        raise InvalidInput(
            "Content-Length must not be negative", field="Content-Length", reason="invalid_content_length"
        )
    return length


def read_body(request: HttpRequest) -> bytes:
    """The raw body, at most ``API_MAX_BODY_BYTES`` (413 above it, declared or not)."""
    cap = body_cap(request)
    if declared_length(request) > cap:
        raise body_too_large(cap)
    try:
        raw = request.body
    except RequestDataTooBig:
        raise body_too_large(cap) from None
    if len(raw) > cap:
        raise body_too_large(cap)
    return raw


def media_type(request: HttpRequest) -> str:
    return (request.META.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()


def is_json_media_type(value: str) -> bool:
    return value == JSON or value.endswith("+json")


def json_body(request: HttpRequest, *, empty: Any = None) -> Any:
    """The body parsed by :func:`json_loads`; an empty body is ``empty`` (a JSON ``null``
    is ``None``); a body sent as anything but JSON is a 415."""
    raw = read_body(request)
    if not raw:  # no body at all; whitespace alone is not JSON
        return empty
    content_type = media_type(request)
    if content_type and not is_json_media_type(content_type):
        raise unsupported_media_type(content_type)
    return json_loads(raw)


class StrictJSONParser(BaseParser):
    """DRF's JSON parser under the input layer's rules (size cap included)."""

    media_type = JSON

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        if stream is None:
            return None
        request = (parser_context or {}).get("request")
        cap = body_cap(request) if request is not None else settings.API_MAX_BODY_BYTES
        raw = stream.read(cap + 1)
        if len(raw) > cap:
            raise body_too_large(cap)
        return json_loads(raw)


# --- path, query string, headers ------------------------------------------------------


def _strict_utf8(raw: bytes, field: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _refusal("invalid_utf8", field) from None
    reason = _text_reason(text)
    if reason:
        raise _refusal(reason, field)
    return text


def _latin1_bytes(value: str) -> bytes:
    """WSGI hands over raw bytes as latin-1 text; ASGI's Django decodes some as UTF-8."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")


def _check_path(request: HttpRequest) -> None:
    scope = getattr(request, "scope", None)
    if scope is not None and scope.get("raw_path"):
        _strict_utf8(unquote_to_bytes(scope["raw_path"].split(b"?", 1)[0]), "path")
    elif _REPERCENTED.search(request.path_info):
        # Under WSGI Django has already re-percent-encoded the bytes of a path that is not
        # UTF-8 ("/pay_%FF"); the server decoded every real escape, so a "%XX" of a byte
        # >= 0x80 left in the path is one of those (or a client's "%25FF", as bad).
        raise _refusal("invalid_utf8", "path")
    reason = _text_reason(request.path_info)
    if reason:
        raise _refusal(reason, "path")


def query_check(raw: bytes) -> None:
    """Every name and value of a raw query string is NUL-free, valid UTF-8 (the
    websocket consumers call this on their scope's ``query_string`` too)."""
    if not raw:
        return
    for pair in raw.split(b"&"):
        raw_name, _, raw_value = pair.partition(b"=")
        name = _strict_utf8(unquote_to_bytes(raw_name.replace(b"+", b" ")), "query")
        _strict_utf8(unquote_to_bytes(raw_value.replace(b"+", b" ")), name)


def _header_name(meta_key: str) -> str:
    return (meta_key[5:] if meta_key.startswith("HTTP_") else meta_key).replace("_", "-").title()


def _check_headers(request: HttpRequest) -> None:
    for key, value in request.META.items():
        if (key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH")) and isinstance(value, str):
            if "\x00" in value:
                raise _refusal("nul_byte", _header_name(key))
            if not value.isascii():
                _strict_utf8(_latin1_bytes(value), _header_name(key))


def request_check(request: HttpRequest) -> None:
    """Every rule that needs no body parse; raises ``ApiError``."""
    _check_path(request)
    query_check(_latin1_bytes(request.META.get("QUERY_STRING", "")))
    _check_headers(request)
    if request.path_info.startswith("/api/") and declared_length(request) > body_cap(request):
        raise body_too_large(body_cap(request))


class RequestInputMiddleware:
    """Refuses a bad path, query string, header or declared body size before routing.
    Sync and async, like every middleware in the chain: one sync-only link would run the
    whole chain, the async long-poll included, in a thread under ASGI."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        refusal = _refusal_response(request)
        if self.is_async:
            return self._acall(request, refusal)
        return refusal or self.get_response(request)

    async def _acall(self, request: HttpRequest, refusal: HttpResponse | None) -> HttpResponse:
        return refusal or await self.get_response(request)


def _refusal_response(request: HttpRequest) -> HttpResponse | None:
    try:
        request_check(request)
    except DomainError as exc:
        response = domain_error_response(exc)
        if response.status_code == 413:
            response["Connection"] = "close"  # the unread body must not be parsed as a next request
        return response
    return None
