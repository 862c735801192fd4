"""Every serving entry point freezes what its start-up made (common.process): checked in a
fresh interpreter per entry point, as each is started."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.processes import process_env

pytestmark = pytest.mark.django_db

ENTRY_POINTS = {
    "wsgi (gunicorn workers)": "import config.wsgi",
    "asgi (daphne)": "import config.asgi",
    # What a Celery worker sends once its tasks are imported (main process) and after each fork.
    "celery worker_ready": "import django; django.setup(); from config.celery import app; "
    "from celery.signals import worker_ready; worker_ready.send(sender=None)",
    "celery worker_process_init": "import django; django.setup(); from config.celery import app; "
    "from celery.signals import worker_process_init; worker_process_init.send(sender=None)",
}


@pytest.mark.parametrize("code", ENTRY_POINTS.values(), ids=ENTRY_POINTS.keys())
def test_the_entry_point_freezes_its_start_up_objects(code):
    probe = f"{code}\nimport gc\nprint(gc.get_freeze_count())"
    done = subprocess.run([sys.executable, "-c", probe], env=process_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    frozen = int(done.stdout.split()[-1])
    assert frozen > 10_000  # Django's start-up alone leaves far more tracked objects than this
