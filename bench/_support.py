"""What the benchmark parents share: a throwaway migrated database, URLs of Redis
databases of their own, and a measurement run in a child process that prints its rows."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def database_url(name: str) -> str:
    """``DATABASE_URL`` (or the local default) pointing at database ``name``."""
    parts = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tender"))
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def redis_url(db: int) -> str:
    """``REDIS_URL`` (or the local default) pointing at Redis database ``db``."""
    parts = urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def admin_sql(*statements: str) -> None:
    import psycopg

    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql)


@contextmanager
def throwaway_database(name: str, env: dict[str, str]) -> Iterator[None]:
    """Create database ``name``, migrate it with ``env`` (whose DATABASE_URL must point at
    it) and drop it afterwards, also when the measurement fails."""
    admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}")
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        yield
    finally:
        admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def run_child(module: str, env: dict[str, str], *args: str) -> list[dict]:
    """Run ``python -m <module> --child <args>``; its last stdout line is the JSON rows."""
    result = subprocess.run(
        [sys.executable, "-m", module, "--child", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    sys.stderr.write(result.stderr[-2000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def celery_workers(*layouts: tuple[str, tuple[str, ...]]) -> list[subprocess.Popen]:
    """Start one real Celery worker per ``(name, worker args)``, each in its own process
    group (so ``stop_process_groups`` also reaches its pool children), output discarded."""
    return [
        subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                *("-A", "config", "worker", "--loglevel=WARNING", *args),
                *("--without-gossip", "--without-mingle", "-n", f"bench-{name}-{os.getpid()}@localhost"),
            ],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for name, args in layouts
    ]


def stop_process_groups(procs: list[subprocess.Popen], timeout: float = 15) -> None:
    """SIGTERM every process group, then SIGKILL whichever is not gone after ``timeout``."""
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
