"""drf-spectacular post-processing: what holds for every operation is stated once here
rather than on each view, so an endpoint added tomorrow is documented truthfully too.

- Every operation can answer 400: the input layer (common/http/inputs.py) refuses bad
  bytes in any path, query string or header before the view runs; and 503 with
  Retry-After when the gateway is overloaded (common/http/overload.py). Operations with a body
  can also answer 413 (too large) and 415 (not JSON); authenticated ones 401 and 429.
- Strings the client sends carry no NUL byte: every request string without a pattern,
  enum or format gets ``^[^\\u0000]*$``.
- Request bodies are closed objects: ``additionalProperties: false``, as
  :func:`common.http.shapes.validated` refuses an unknown field.
"""

from __future__ import annotations

from typing import Any

from payments.api.fields import NO_NUL

_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_ALWAYS = {
    400: "BAD_REQUEST_ERROR: invalid input (the input layer: NUL, lone surrogate or invalid UTF-8 in the path, "
    "query or headers; or this operation's own rules)",
    503: "SERVER_ERROR `overloaded` with Retry-After: no database connection was free in time "
    "(common/http/overload.py)",
}
_WITH_BODY = {
    413: "BAD_REQUEST_ERROR `body_too_large`: the body exceeds API_MAX_BODY_BYTES (64 KiB)",
    415: "BAD_REQUEST_ERROR `unsupported_media_type`: send application/json",
}
_AUTHENTICATED = {
    401: "AUTHENTICATION_ERROR: missing or invalid X-Api-Key/X-Api-Secret (or HTTP Basic)",
    429: "RATE_LIMIT_ERROR with Retry-After: the API key's requests per second",
}


def _declare(operation: dict[str, Any], statuses: dict[int, str]) -> None:
    responses = operation.setdefault("responses", {})
    for status, description in statuses.items():
        responses.setdefault(
            str(status), {"description": description, "content": {"application/json": {"schema": _ERROR_REF}}}
        )


def _no_nul(node: Any) -> None:
    """Give every unconstrained string in ``node`` (a request schema) the NUL-free pattern."""
    if isinstance(node, list):
        for item in node:
            _no_nul(item)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "string" and not {"pattern", "enum", "format"} & node.keys():
        node["pattern"] = NO_NUL
    for key in ("properties",):
        for child in node.get(key, {}).values():
            _no_nul(child)
    for key in ("items", "additionalProperties", "oneOf", "anyOf", "allOf", "schema"):
        if key in node:
            _no_nul(node[key])


def _close(node: dict[str, Any]) -> None:
    if node.get("type") == "object" and "properties" in node:
        node.setdefault("additionalProperties", False)


def postprocess(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request"):  # COMPONENT_SPLIT_REQUEST: the request shapes
            _close(component)
            _no_nul(component)
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            _declare(operation, _ALWAYS)
            if "requestBody" in operation:
                _declare(operation, _WITH_BODY)
                for media in operation["requestBody"].get("content", {}).values():
                    if "$ref" not in media.get("schema", {}):
                        _close(media.get("schema", {}))
                        _no_nul(media.get("schema", {}))
            if operation.get("security", [{}]) != [{}] and operation.get("security") != []:
                _declare(operation, _AUTHENTICATED)
            for parameter in operation.get("parameters", []):
                _no_nul(parameter.get("schema", {}))
    return result
