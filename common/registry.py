"""Named extension points: one mechanism for "the core calls whatever the apps plugged in".

The outbox's consumers, the demo seeders and the payment providers are each a :class:`Registry`.
An app registers its entry in its ``AppConfig.ready`` (Django imports every app before any
``ready`` runs), so the core that reads a registry imports none of the apps that fill it and
adding a fourth consumer or a second provider touches no core file. Registering a name again
replaces its entry, so a repeated ``ready`` (tests) changes nothing. Entries are read in the
order they were first registered.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries by name; ``what`` names them in errors ("outbox consumer")."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T) -> None:
        self._entries[name] = entry

    def unregister(self, name: str) -> None:
        """Remove ``name`` if registered (a test's own entry, once the test is over)."""
        self._entries.pop(name, None)

    def get(self, name: str) -> T:
        """The entry registered as ``name``; ``LookupError`` for an unknown one."""
        try:
            return self._entries[name]
        except KeyError:
            raise LookupError(f"no {self.what} is registered as {name!r}") from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[T]:
        """Every entry, in the order of first registration."""
        return list(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries
