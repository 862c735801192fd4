"""Event-type patterns: the one rule of every filter on event types (webhook endpoints' and
event destinations' subscriptions, the events API's ``type``, the delivery logs' ``event``).
``*`` is every type, a family such as ``payment.*`` every type starting ``payment.``, anything
else exactly that type; an empty list of patterns is every type. :func:`event_type_matches`
applies the rule in Python, :func:`event_types_q` in SQL."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

ALL = "*"
FAMILY_SUFFIX = ".*"


def _family_prefix(pattern: str) -> str | None:
    """``payment.`` for ``payment.*``; None for an exact type."""
    return pattern[:-1] if pattern.endswith(FAMILY_SUFFIX) else None


def event_type_matches(patterns: Iterable[str], event_type: str) -> bool:
    """True when ``event_type`` is one the ``patterns`` name."""
    patterns = list(patterns) or [ALL]
    for pattern in patterns:
        if pattern in (ALL, event_type):
            return True
        prefix = _family_prefix(pattern)
        if prefix is not None and event_type.startswith(prefix):
            return True
    return False


def event_types_q(patterns: Iterable[str], *, field: str = "type") -> Q:
    """The filter on ``field`` that keeps exactly the types :func:`event_type_matches` keeps."""
    patterns = list(patterns)
    if not patterns or ALL in patterns:
        return Q()
    q = Q(pk__in=[])
    for pattern in patterns:
        prefix = _family_prefix(pattern)
        q |= Q(**{f"{field}__startswith": prefix}) if prefix is not None else Q(**{field: pattern})
    return q
