"""The serving layout of ``make run`` and docker-compose, in one place.

Which processes run, how many OS processes each role forks, how many database connections
each of those may hold (its psycopg pool), and the front that answers on 8000, 3000 and 3001:

    nginx (front) ──/ws/, …/status long-polls──▶ daphne (ASGI: websockets, async views)
          └──────────────── everything else ───▶ gunicorn sync workers (WSGI: the API, pages)

``python -m config.serving run <role>`` starts one role (the Procfile and docker-compose call
it), with ``TENDER_ROLE`` set so config.settings gives that process its pool;
``python -m config.serving check`` compares the sum of every role's pool with PostgreSQL's
``max_connections`` (read from the server) and refuses to start a layout that could run out.

The sizes are chosen for PostgreSQL's default ``max_connections = 100``; see
docs/ARCHITECTURE.md ("Serving layout", "Pool arithmetic").
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = Path(os.environ.get("TENDER_RUN_DIR", ROOT / ".run"))


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


@dataclass(frozen=True)
class Role:
    """One line of the Procfile: ``processes`` OS processes that may open database
    connections, each with a pool of at most ``pool_size``."""

    name: str
    processes: int
    pool_size: int
    why: str

    @property
    def connections(self) -> int:
        return self.processes * self.pool_size


WEB_WORKERS = _env_int("WEB_WORKERS", 2)  # gunicorn sync workers: one per core
WORKER_CONCURRENCY = _env_int("WORKER_CONCURRENCY", 2)
WEBHOOKS_THREADS = _env_int("WEBHOOKS_THREADS", 32)
STREAMS_THREADS = _env_int("STREAMS_THREADS", 8)
ASGI_POOL_SIZE = _env_int("ASGI_POOL_SIZE", 8)
# The simulator stands in for an external acquirer; its notifications wait on HTTP to the
# gateway, so a few threads send them side by side.
SIMULATOR_THREADS = _env_int("SIMULATOR_THREADS", 4)

# The one place the database budget is decided. A sync worker or a prefork child runs one
# task at a time (1 connection; 2 leaves room for a helper thread); a threads pool needs one
# per thread, or a thread waiting on a hanging webhook endpoint would hold up the others'
# queries; daphne's sync sections (ticket checks, long-poll re-checks) share its pool and
# queue for it (a 503 after DB_POOL_TIMEOUT, never a 500). Celery prefork counts its
# parent process too (it holds none in practice; counting it keeps the sum an upper bound).
ROLES: dict[str, Role] = {
    role.name: role
    for role in (
        Role("web", WEB_WORKERS, 2, "gunicorn sync workers: the REST API and pages"),
        Role("asgi", 1, ASGI_POOL_SIZE, "daphne: websockets and long-polls"),
        Role("worker", WORKER_CONCURRENCY + 1, 2, "celery prefork: payments, reconciliation, default"),
        Role("outbox", 2, 2, "celery prefork 1: the outbox dispatcher"),
        Role("webhooks", 1, WEBHOOKS_THREADS, "celery threads: webhooks and notifications, one connection per thread"),
        # event streams: drain threads + the poll on its main thread; + 1 for its LISTEN connection
        Role("streams", 1, STREAMS_THREADS + 2, "event-stream publisher: a connection per drain thread, poll, LISTEN"),
        Role("beat", 1, 2, "celery beat: the schedules in PostgreSQL"),
        Role("simulator", 1, SIMULATOR_THREADS, "celery threads: the simulated acquirer's notifications"),
    )
}
# Connections kept free for everything else that connects: migrate, seed_demo, this
# check, manage.py shell, psql, a second pytest run.
RESERVED_CONNECTIONS = _env_int("DB_RESERVED_CONNECTIONS", 10)

FRONT_PORTS = [int(p) for p in os.environ.get("FRONT_PORTS", "8000,3000,3001").split(",") if p.strip()]
FRONT_BIND = os.environ.get("FRONT_BIND", "0.0.0.0")  # noqa: S104 (the gateway answers on every interface, as before)
WSGI_BIND = os.environ.get("WSGI_BIND", f"unix:{RUN_DIR / 'gunicorn.sock'}")
ASGI_BIND = os.environ.get("ASGI_BIND", f"unix:{RUN_DIR / 'daphne.sock'}")
# Where the front finds them (docker-compose: other containers, e.g. ``web:8001``).
WSGI_UPSTREAM = os.environ.get("WSGI_UPSTREAM", WSGI_BIND)
ASGI_UPSTREAM = os.environ.get("ASGI_UPSTREAM", ASGI_BIND)


def role_pool_size(role: str | None) -> int:
    """The pool of this process: the role's size, or ``DB_POOL_SIZE`` when set explicitly;
    0 (no pool: one persistent connection per thread, as tests and tooling use) otherwise."""
    explicit = _env_int("DB_POOL_SIZE", 0)
    if explicit:
        return explicit
    known = ROLES.get(role or "")
    return known.pool_size if known else 0


def budget() -> int:
    """Connections the whole layout may open at most."""
    return sum(role.connections for role in ROLES.values())


def check_connections(max_connections: int, reserved_for_superuser: int) -> str | None:
    """None if the layout fits in the server's limit, else the refusal to print."""
    usable = max_connections - reserved_for_superuser
    needed = budget() + RESERVED_CONNECTIONS
    if needed <= usable:
        return None
    lines = [
        f"Refusing to start: this layout may open {budget()} PostgreSQL connections "
        f"(+ {RESERVED_CONNECTIONS} kept for tooling = {needed}), but the server allows "
        f"{usable} (max_connections {max_connections} - superuser_reserved_connections {reserved_for_superuser}).",
        "  role       processes x pool = connections",
    ]
    lines += [f"  {r.name:<10} {r.processes:>9} x {r.pool_size:<4} = {r.connections}" for r in ROLES.values()]
    lines.append(
        "Raise max_connections in postgresql.conf, or lower WEB_WORKERS, WORKER_CONCURRENCY, "
        "WEBHOOKS_THREADS or ASGI_POOL_SIZE (config/serving.py)."
    )
    return "\n".join(lines)


def server_limits(database_url: str) -> tuple[int, int]:
    """(max_connections, superuser_reserved_connections) as the server reports them."""
    import psycopg

    with psycopg.connect(database_url, connect_timeout=5, autocommit=True) as conn:
        rows = dict(
            conn.execute(
                "SELECT name, setting::int FROM pg_settings"
                " WHERE name IN ('max_connections', 'superuser_reserved_connections')"
            ).fetchall()
        )
    return rows["max_connections"], rows.get("superuser_reserved_connections", 0)


def _upstream(bind: str) -> str:
    return f"unix:{bind[5:]}" if bind.startswith("unix:") else bind


def nginx_config(*, run_dir: Path, static_root: Path) -> str:
    """The front: Host kept with its port (pages differ per port), the client address
    overwritten into X-Forwarded-For (one trusted proxy; a client cannot forge it), request
    bodies buffered (a chunked upload reaches the app with a Content-Length), and an
    unreachable or overwhelmed upstream answered 503 in the error envelope with Retry-After."""
    listens = "\n".join(f"    listen {FRONT_BIND}:{port} reuseport backlog=4096;" for port in FRONT_PORTS)
    proxy_headers = """
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;"""
    unavailable = (
        '{"error":{"code":"SERVER_ERROR","description":"The gateway is overloaded or restarting; retry shortly",'
        '"field":null,"reason":"service_unavailable","correlation_id":null}}'
    )
    # Started as root (this machine kind), nginx would hand its workers to "nobody", who
    # cannot reach the sockets, temp dirs and static files of the run directory.
    user = "user root;\n" if os.geteuid() == 0 else ""
    too_large = (
        '{"error":{"code":"BAD_REQUEST_ERROR","description":"Request body too large",'
        '"field":null,"reason":"body_too_large","correlation_id":null}}'
    )
    return f"""# Rendered by config/serving.py for `make run`; edits are overwritten.
{user}worker_processes 1;
pid {run_dir}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  client_body_temp_path {run_dir}/nginx-body;
  proxy_temp_path {run_dir}/nginx-proxy;
  fastcgi_temp_path {run_dir}/nginx-fastcgi;
  uwsgi_temp_path {run_dir}/nginx-uwsgi;
  scgi_temp_path {run_dir}/nginx-scgi;
  client_max_body_size 2m;
  keepalive_requests 100000;
  server_tokens off;
  map $http_upgrade $connection_upgrade {{ default upgrade; "" ""; }}
  upstream wsgi {{ server {_upstream(WSGI_UPSTREAM)}; }}
  upstream asgi {{ server {_upstream(ASGI_UPSTREAM)}; keepalive 64; }}
  server {{
{listens}
    location /ws/ {{{proxy_headers}
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 1h;
      proxy_buffering off;
      proxy_pass http://asgi;
    }}
    # GET /api/v1/payments/{{id}}/status?wait= waits in daphne's event loop, holding nothing
    location ~ ^/api/v1/payments/[^/]+/status$ {{{proxy_headers}
      proxy_set_header Connection "";
      proxy_read_timeout 60s;
      proxy_pass http://asgi;
    }}
    location = /static/checkout.js {{
      alias {static_root}/checkout.js;
      add_header Access-Control-Allow-Origin "*";
      add_header Cache-Control "public, max-age=300";
    }}
    location /static/ {{
      alias {static_root}/;
      add_header Cache-Control "public, max-age=300";
    }}
    location / {{{proxy_headers}
      proxy_set_header Connection "";
      proxy_read_timeout 60s;
      proxy_pass http://wsgi;
    }}
    error_page 413 = @too_large;
    location @too_large {{
      default_type application/json;
      return 413 '{too_large}';
    }}
    error_page 502 504 = @unavailable;
    location @unavailable {{
      default_type application/json;
      add_header Retry-After 1 always;
      return 503 '{unavailable}';
    }}
  }}
}}
"""


def role_command(role: str) -> list[str]:
    """argv of ``role``; binaries come from the interpreter's own bin directory."""
    bin_dir = Path(sys.executable).parent
    celery = [str(bin_dir / "celery"), "-A", "config"]
    if role == "front":
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        from django.conf import settings

        conf = RUN_DIR / "nginx.conf"
        conf.write_text(nginx_config(run_dir=RUN_DIR, static_root=Path(settings.STATIC_ROOT)))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        return [nginx, "-e", "stderr", "-p", str(RUN_DIR), "-c", str(conf), "-g", "daemon off;"]
    if role == "web":
        return [
            str(bin_dir / "gunicorn"), "config.wsgi:application", "-b", WSGI_BIND,
            "--workers", str(WEB_WORKERS), "--worker-class", "sync", "--backlog", "2048",
            "--timeout", "60", "--graceful-timeout", "10", "--log-level", "warning",
        ]  # fmt: skip
    if role == "asgi":
        if ASGI_BIND.startswith("unix:"):
            bind = ["-u", ASGI_BIND[5:]]
        else:
            host, _, port = ASGI_BIND.rpartition(":")
            bind = ["-b", host or "0.0.0.0", "-p", port]  # noqa: S104
        return [str(bin_dir / "daphne"), *bind, "--proxy-headers", "config.asgi:application"]
    if role == "worker":
        return [
            *celery, "worker", "--loglevel=INFO", f"--concurrency={WORKER_CONCURRENCY}",
            "-n", "worker@%h", "-Q", "default,payments,reconciliation",
        ]  # fmt: skip
    if role == "outbox":
        return [*celery, "worker", "--loglevel=INFO", "--concurrency=1", "-n", "outbox@%h", "-Q", "outbox"]
    if role == "webhooks":
        return [
            *celery, "worker", "--loglevel=INFO", "--pool=threads", f"--concurrency={WEBHOOKS_THREADS}",
            "-n", "webhooks@%h", "-Q", "webhooks,webhook_retries,notifications",
        ]  # fmt: skip
    if role == "streams":  # event streams: a long-lived publisher process, not a Celery worker
        return [sys.executable, str(ROOT / "manage.py"), "event_stream_publisher", f"--threads={STREAMS_THREADS}"]
    if role == "simulator":
        return [
            *celery, "worker", "--loglevel=INFO", "--pool=threads", f"--concurrency={SIMULATOR_THREADS}",
            "-n", "simulator@%h", "-Q", "simulator",
        ]  # fmt: skip
    if role == "beat":
        return [*celery, "beat", "--loglevel=INFO"]
    raise SystemExit(f"unknown role {role!r}; one of: front, {', '.join(ROLES)}")


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if argv[:1] == ["check"]:
        url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tender")
        limit, reserved = server_limits(url)
        refusal = check_connections(limit, reserved)
        if refusal:
            sys.stderr.write(refusal + "\n")
            return 1
        sys.stdout.write(
            f"database connections: layout {budget()} + {RESERVED_CONNECTIONS} reserved"
            f" <= {limit - reserved} allowed (max_connections {limit})\n"
        )
        return 0
    if argv[:1] == ["run"] and len(argv) == 2:
        role = argv[1]
        if role in {"web", "asgi"}:
            RUN_DIR.mkdir(parents=True, exist_ok=True)
            if role == "asgi" and ASGI_BIND.startswith("unix:"):
                Path(ASGI_BIND[5:]).unlink(missing_ok=True)  # daphne refuses a stale socket
        command = role_command(role)
        os.environ["TENDER_ROLE"] = role
        # Every role of this layout publishes the simulator's notifications to its own worker.
        os.environ.setdefault("SIMULATOR_NOTIFY_QUEUE", "simulator")
        if role in {"web", "asgi"}:
            # Only the front reaches them (a unix socket, or a private network in compose), and
            # it overwrites X-Forwarded-For with the client's address: trust exactly one hop.
            os.environ.setdefault("TRUSTED_PROXY_COUNT", "1")
        os.execv(command[0], command)  # noqa: S606 (our own argv, no shell)
    sys.stderr.write(
        "usage: python -m config.serving check | run <front|web|asgi|worker|outbox|webhooks|streams|beat|simulator>\n"
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
