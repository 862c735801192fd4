"""The import shape, checked where the import-linter contracts in pyproject.toml cannot see.

* No module imports another in a circle. ``acyclic_siblings`` compares the siblings of each
  package; a package and one of its own modules can still import each other in a circle.
* No first-party import sits inside a function. Django's documented exception is
  ``AppConfig.ready`` (every app's models are loaded by then: registries are filled there);
  ``if TYPE_CHECKING:`` imports are not imports at run time.
* Every task published by name (``common.tasks.task_send``) is a registered task, and a
  process that never imported the tasks module (an API process) still finds it.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import threading
from pathlib import Path

import grimp
import pytest

from common.registry import Registry
from common.tasks import registered_task
from common.threads import ProcessThread

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = ("common", "config", "payments", "webhooks", "realtime", "reconciliation", "notifications")

# Function-level imports that other helpers of issues 14 and 11 are removing right now (each
# closes one of the last circles, or is a plain leftover). Delete an entry with its import.
PENDING: dict[tuple[str, str], str] = {}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _source_files() -> list[Path]:
    return sorted(
        path for package in FIRST_PARTY for path in (ROOT / package).rglob("*.py") if "migrations" not in path.parts
    )


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _function_level_imports(tree: ast.Module) -> list[tuple[int, str, str]]:
    """(line, imported module, enclosing function) of every first-party import in a function."""
    found: list[tuple[int, str, str]] = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, child.name)
                continue
            if function is not None and isinstance(child, ast.Import | ast.ImportFrom):
                relative = isinstance(child, ast.ImportFrom) and child.level > 0
                if isinstance(child, ast.Import):
                    modules = [a.name for a in child.names]
                else:  # "from x import y": module x.y, or a name of x
                    modules = [f"{child.module or ''}.{a.name}".lstrip(".") for a in child.names]
                found.extend(
                    [
                        (child.lineno, module, function)
                        for module in modules
                        if relative or module.split(".")[0] in FIRST_PARTY
                    ]
                )
            visit(child, function)

    visit(tree, None)
    return found


def test_no_first_party_import_inside_a_function():
    offenders = []
    for path in _source_files():
        importer = _module_name(path)
        for line, module, function in _function_level_imports(ast.parse(path.read_text(), str(path))):
            if path.name == "apps.py" and function == "ready":
                continue  # Django's documented place: the app registry is ready
            if any(
                importer == pending and (module == imported or module.startswith(f"{imported}."))
                for pending, imported in PENDING
            ):
                continue
            offenders.append(f"{path.relative_to(ROOT)}:{line} imports {module} inside {function}()")
    assert offenders == [], "move these imports to the top (a circle? publish by name: common.tasks.task_send)"


def test_no_import_circle_between_first_party_modules():
    graph = grimp.build_graph(*FIRST_PARTY, exclude_type_checking_imports=True, cache_dir=None)
    for importer, imported in PENDING:
        for target in graph.find_modules_directly_imported_by(importer):
            if target == imported or target.startswith(f"{imported}."):
                graph.remove_import(importer=importer, imported=target)
    circles = []
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back is not None:
                circles.append(" -> ".join((module, *back)))
    assert circles == []


def _published_task_names() -> set[str]:
    """Every name a module passes to task_send, directly or through a ``*_TASK`` constant."""
    names: set[str] = set()
    for path in _source_files():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            constant = isinstance(node, ast.Assign) and isinstance(getattr(node.value, "value", None), str)
            if constant and any(isinstance(t, ast.Name) and t.id.endswith("_TASK") for t in node.targets):
                names.add(node.value.value)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "task_send" and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant):
                    names.add(first.value)
    return names


def test_every_task_published_by_name_is_registered():
    names = _published_task_names()
    assert {
        "payments.outbox_tasks.outbox_dispatch",
        "webhooks.tasks.webhook_delivery_first_attempt",
        "webhooks.tasks.webhook_delivery_retry",
        "notifications.tasks.notification_send_task",
    } <= names
    for name in sorted(names):
        assert registered_task(name).name == name


def test_a_process_that_never_imported_the_tasks_modules_finds_every_task():
    names = sorted(_published_task_names())
    script = (
        "import sys, django; django.setup()\n"
        "from common.tasks import registered_task\n"
        "assert not [m for m in sys.modules if m.endswith('tasks') and m.startswith(('payments', 'webhooks', "
        "'notifications'))], 'imported already'\n"
        f"print([registered_task(name).name for name in {names!r}])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == repr(names)


def test_registry_keeps_first_registration_order_and_replaces_by_name():
    registry: Registry[int] = Registry("number")
    registry.register("b", 1)
    registry.register("a", 2)
    registry.register("b", 3)
    assert registry.entries() == [3, 2]
    assert registry.names() == ["a", "b"]
    assert "a" in registry and "c" not in registry
    with pytest.raises(LookupError, match="no number is registered as 'c'"):
        registry.get("c")
    registry.unregister("a")
    registry.unregister("a")
    assert registry.entries() == [3]


def test_process_thread_restarts_after_it_died_and_prepares_each_start():
    stop = threading.Event()
    prepared = []
    thread = ProcessThread(name="test-thread", target=stop.wait, prepare=lambda: prepared.append(1))
    assert thread.ensure_running() is True
    assert thread.ensure_running() is False  # running: nothing to do
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    stop.clear()
    assert thread.ensure_running() is True
    assert prepared == [1, 1]
    stop.set()
    thread.join(5)


def test_process_thread_starts_its_own_thread_in_a_forked_child():
    stop = threading.Event()
    thread = ProcessThread(name="test-fork-thread", target=stop.wait)
    thread.ensure_running()
    pid = os.fork()
    if pid == 0:  # the child has the object but not the parent's thread
        code = 0 if (not thread.is_alive() and thread.ensure_running() and thread.is_alive()) else 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    stop.set()
    thread.join(5)
    assert os.waitstatus_to_exitcode(status) == 0
