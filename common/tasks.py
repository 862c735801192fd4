"""Publishing a Celery task by its registered name.

The module that asks for work never imports the module that does it: a ``tasks`` module imports the
services it runs, and services publish follow-up work through :func:`task_send`. So no service and
its task module import each other in a circle. The task is looked up in the app's registry at call
time, so its own ``apply_async`` (the correlation-id header, routing) applies as with ``.delay``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from celery import Task, current_app
from celery.exceptions import NotRegistered


def registered_task(name: str) -> Task:
    """The task registered as ``name``. A worker imports every tasks module when it starts; any
    other process (an API process, a test) may not have, since the module publishing the task by
    name does not import it: task names are ``<tasks module>.<function>``, so on a miss that one
    module is imported (once; then the registry has it)."""
    try:
        return current_app.tasks[name]
    except NotRegistered:
        import_module(name.rpartition(".")[0])
        return current_app.tasks[name]


def task_send(name: str, *args: Any, **options: Any) -> None:
    """Queue the registered task ``name`` with positional ``args``; ``options`` go to ``apply_async``.
    Raises what the broker raises: callers decide whether a sweeper covers a lost message."""
    registered_task(name).apply_async(args, **options)
