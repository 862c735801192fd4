"""Real processes for tests: a Celery worker and a daphne server running against the
test database and the test Redis databases, started and stopped by fixtures."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_env(**extra: str) -> dict[str, str]:
    """Environment for a child process that must see exactly what the tests see."""
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.test_settings",
        DATABASE_URL=(
            f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        REDIS_URL=settings.REDIS_URL,
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        TEST_REDIS_DB=os.environ.get("TEST_REDIS_DB", "10"),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def wait_for(predicate, timeout: float, interval: float = 0.05, message: str = "condition") -> None:
    """Poll ``predicate`` until true; fail the test with ``message`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@contextmanager
def celery_worker(
    *,
    queues: str = "default,payments,outbox,webhooks,webhook_retries,reconciliation",
    concurrency: int = 2,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
    pool: str | None = None,
    extra_args: Sequence[str] = (),
) -> Iterator[subprocess.Popen]:
    """A real ``celery worker`` process; waits for its heartbeat before yielding. ``pool``
    (e.g. ``"threads"``) and ``extra_args`` reproduce a Procfile line's other options."""
    import redis

    from config.celery import HEARTBEAT_KEY_PREFIX

    hostname = f"test-{os.getpid()}-{time.monotonic_ns()}@localhost"
    log = open(log_path or os.devnull, "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            str(BIN / "celery"),
            "-A",
            "config",
            "worker",
            "--loglevel=WARNING",
            f"--concurrency={concurrency}",
            "-Q",
            queues,
            "-n",
            hostname,
            "--without-gossip",
            "--without-mingle",
            *([f"--pool={pool}"] if pool else []),
            *extra_args,
        ],
        cwd=ROOT,
        env=process_env(**(env or {})),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        wait_for(
            lambda: client.exists(HEARTBEAT_KEY_PREFIX + hostname) or proc.poll() is not None,
            timeout=30,
            message="celery worker heartbeat",
        )
        assert proc.poll() is None, "celery worker exited during start-up"
        yield proc
    finally:
        stop_process(proc)
        log.close()


@contextmanager
def daphne_server(*, port: int | None = None, env: dict[str, str] | None = None) -> Iterator[str]:
    """A real daphne serving config.asgi on loopback; yields its base URL."""
    port = port or free_port()
    proc = subprocess.Popen(
        [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT,
        env=process_env(**(env or {})),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )

    def listening() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_for(lambda: listening() or proc.poll() is not None, timeout=30, message="daphne to listen")
        assert proc.poll() is None, "daphne exited during start-up"
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen, *, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=timeout)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@contextmanager
def serving_layout(
    *, roles: Sequence[str] = ("front", "web", "asgi"), env: dict[str, str] | None = None, run_dir: Path
) -> Iterator[dict[str, str]]:
    """The production front of ``make run`` (config/serving.py) on loopback: nginx on a free
    port in front of gunicorn sync workers and daphne, each started by ``python -m
    config.serving run <role>`` exactly as the Procfile starts it. Yields the base URLs of
    the front and of the two backends (reached directly, to test each serving path)."""
    front, wsgi, asgi = free_port(), free_port(), free_port()
    layout_env = {
        "TENDER_RUN_DIR": str(run_dir),
        "FRONT_PORTS": str(front),
        "FRONT_BIND": "127.0.0.1",
        "WSGI_BIND": f"127.0.0.1:{wsgi}",
        "ASGI_BIND": f"127.0.0.1:{asgi}",
        "WEB_WORKERS": "2",
        **(env or {}),
    }
    ports = {"front": front, "web": wsgi, "asgi": asgi}
    procs: list[subprocess.Popen] = []
    logs = []
    try:
        for role in roles:
            log = open(run_dir / f"{role}.log", "wb")  # noqa: SIM115
            logs.append(log)
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "config.serving", "run", role],
                    cwd=ROOT,
                    env=process_env(**layout_env),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        for role, proc in zip(roles, procs, strict=True):
            port = ports.get(role)
            if port is None:
                continue

            def up(port: int = port, proc: subprocess.Popen = proc) -> bool:
                with socket.socket() as sock:
                    return sock.connect_ex(("127.0.0.1", port)) == 0 or proc.poll() is not None

            wait_for(up, timeout=30, message=f"{role} to listen")
            assert proc.poll() is None, f"{role} exited during start-up: {(run_dir / f'{role}.log').read_text()}"
        yield {role: f"http://127.0.0.1:{port}" for role, port in ports.items()}
    finally:
        for proc in procs:
            stop_process(proc)
        for log in logs:
            log.close()
