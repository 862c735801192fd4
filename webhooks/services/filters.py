"""Event-type filters of endpoints: ``*``, ``payment.*`` or exact types, validated here and
matched by the one rule of :mod:`payments.event_patterns`."""

from __future__ import annotations

from common.errors import InvalidInput
from payments.event_patterns import ALL, FAMILY_SUFFIX
from payments.states import EVENT_TYPES

_FAMILIES = frozenset(t.split(".", 1)[0] for t in EVENT_TYPES)


def event_types_validate(value: object) -> list[str]:
    """Return the normalised pattern list or raise InvalidInput (reason invalid_event_type)."""
    if value is None:
        return [ALL]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InvalidInput(
            "event_types must be a non-empty list of strings", field="event_types", reason="invalid_event_type"
        )
    patterns: list[str] = []
    for raw in value:
        pattern = raw.strip()
        valid = (
            pattern == ALL or pattern in EVENT_TYPES or (pattern.endswith(FAMILY_SUFFIX) and pattern[:-2] in _FAMILIES)
        )
        if not valid:
            raise InvalidInput(
                f"unknown event type {raw!r}; use '*', a family such as 'payment.*', or one of: "
                + ", ".join(EVENT_TYPES),
                field="event_types",
                reason="invalid_event_type",
            )
        if pattern not in patterns:
            patterns.append(pattern)
    return patterns
