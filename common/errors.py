"""The domain's refusals. Services, selectors and validation raise these; they say what was wrong
and with which stable code, never how it is rendered. The HTTP layer alone maps each kind to a
status and the error envelope (``common.http.errors``); admin actions, management commands and
socket consumers show the same description.

The codes are the API contract's (docs/api.md), so they live here beside the kinds that carry them.
"""

from __future__ import annotations

from typing import Any

BAD_REQUEST_ERROR = "BAD_REQUEST_ERROR"
AUTHENTICATION_ERROR = "AUTHENTICATION_ERROR"
NOT_FOUND_ERROR = "NOT_FOUND_ERROR"
INVALID_VPA = "INVALID_VPA"
INVALID_CARD = "INVALID_CARD"
EXPIRED_CARD = "EXPIRED_CARD"
CONFLICT_ERROR = "CONFLICT_ERROR"
RATE_LIMIT_ERROR = "RATE_LIMIT_ERROR"
SERVER_ERROR = "SERVER_ERROR"
PERMISSION_ERROR = "PERMISSION_ERROR"


class DomainError(Exception):
    """A refusal with a stable code; ``field`` names the input at fault, ``reason`` refines the code,
    and ``retry_after_seconds`` says when the same request may succeed (a transient refusal)."""

    code = BAD_REQUEST_ERROR

    def __init__(
        self,
        description: str,
        *,
        code: str | None = None,
        field: str | None = None,
        reason: str | None = None,
        retry_after_seconds: int | None = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        if code is not None:
            self.code = code
        self.field = field
        self.reason = reason
        self.retry_after_seconds = retry_after_seconds


class InvalidInput(DomainError):
    """The input cannot be accepted as given (shape, value, or the state it asks about)."""

    code = BAD_REQUEST_ERROR


class NotFound(DomainError):
    """No such object for this merchant: another merchant's object is indistinguishable from none."""

    code = NOT_FOUND_ERROR

    def __init__(self, description: str = "The requested resource does not exist", **kwargs: Any) -> None:
        super().__init__(description, **kwargs)


class Conflict(DomainError):
    """The object's current state or a concurrent request forbids the change; nothing was changed."""

    code = CONFLICT_ERROR


class Forbidden(DomainError):
    """The signed-in user's role does not allow the action (the dashboard's roles)."""

    code = PERMISSION_ERROR


class Unavailable(DomainError):
    """A dependency the change needs (mail, a broker) cannot be reached; nothing was changed."""

    code = SERVER_ERROR
