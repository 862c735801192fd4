"""After-commit publishing: nothing for a rollback, every committed item published once,
each with its own correlation id, off the request thread."""

import threading

import pytest
from django.db import transaction

from payments.correlation import correlation_scope
from payments.publisher import publish_after_commit
from tests.support.processes import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


class FakeBatchTask:
    name = "fake"

    def __init__(self) -> None:
        self.calls: list[tuple[str, list]] = []

    def delay(self, items: list) -> None:
        self.calls.append((threading.current_thread().name, items))


def test_committed_items_are_published_with_their_correlation_ids():
    task = FakeBatchTask()
    for n in range(20):
        with correlation_scope(f"corr-{n}"), transaction.atomic():
            publish_after_commit(task, f"pay_{n}")
    with pytest.raises(RuntimeError), transaction.atomic():
        publish_after_commit(task, "pay_rolled_back")
        raise RuntimeError("rollback")
    wait_for(lambda: sum(len(items) for _, items in task.calls) >= 20, timeout=5, message="all published")
    published = [tuple(item) for _, items in task.calls for item in items]
    assert sorted(published) == sorted((f"pay_{n}", f"corr-{n}") for n in range(20))
    assert {thread for thread, _ in task.calls} == {"task-publisher"}
