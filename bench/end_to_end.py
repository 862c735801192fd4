"""Complete payments per second in ``make run``'s layout, and where the CPU goes.

The layout is started as the Procfile starts it (``python -m config.serving run <role>``:
nginx front, gunicorn sync workers, daphne, the payments worker, the outbox dispatcher, the
webhooks worker and beat) against a throwaway database (``tender_bench_e2e``) and a private
``redis-server`` on a free port (so Redis's CPU is ours alone), in test mode with no
processing delay. One merchant has one webhook endpoint (``payment.success`` only) pointing
at a loopback receiver process, and one ``ws/merchant`` socket held by another process.

A load process creates UPI payments (implicit order) through the front from E2E_CLIENTS
keep-alive connections, paced at E2E_RATE per second in total, for E2E_SECONDS. A payment is
complete when it was created, the provider (the simulator, via its signed notification to the
front) made it succeed, its ``payment.success`` webhook reached the receiver and its push
reached the socket. Reported:

- complete payments/s: payments completed within the load window / its length (target 300);
- created/s, and how many of the created ones completed before the drain deadline;
- p50/p99 from create (request sent) to webhook received, and to push received;
- CPU ms per payment of each process (utime + stime from /proc, children included;
  PostgreSQL = the backends connected to the bench database), over load + drain, less what
  the layout burns idle (measured for 10 s before the load), divided by the payments created
  (all of them complete unless a row says otherwise).

Environment: E2E_RATE (300), E2E_SECONDS (60), E2E_CLIENTS (8), E2E_DRAIN_SECONDS (120);
E2E_PROFILE_DIR: also sample every Python role with py-spy during the load (collapsed
stacks, ``<role>.txt``; how docs/ARCHITECTURE.md found where the CPU goes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench._support import ROOT, database_url, free_port, run_child, throwaway_database

BENCH_DB = "tender_bench_e2e"
RATE = float(os.environ.get("E2E_RATE", "300"))
SECONDS = float(os.environ.get("E2E_SECONDS", "60"))
CLIENTS = int(os.environ.get("E2E_CLIENTS", "8"))
DRAIN_SECONDS = float(os.environ.get("E2E_DRAIN_SECONDS", "120"))
IDLE_SECONDS = 10.0
TARGET_COMPLETE_PER_SECOND = 300.0
ROLES = ("front", "web", "asgi", "worker", "outbox", "webhooks", "streams", "beat", "simulator")
# The simulator stands in for the acquirer: its CPU is shown, but is not the gateway's.
ACQUIRER_ROLES = {"simulator"}
BODY = json.dumps({"amount": 50000, "currency": "INR", "method": "upi", "vpa": "bench@upi"})
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def _wait_http(port: int, path: str, timeout: float = 120) -> None:
    """Until the front answers ``path`` at all (any status): its upstream is serving."""
    import http.client

    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", path)
            if conn.getresponse().status != 503:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing answers {path} on {port}")
        time.sleep(0.5)


# --- CPU accounting ------------------------------------------------------------------------
def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def _cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` plus the reaped children it accounts for (cutime + cstime)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(v) for v in fields[11:15]) / CLK_TCK


def _tree_cpu(root: int, tree: dict[int, list[int]]) -> float:
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        total += _cpu_seconds(pid)
        stack.extend(tree.get(pid, []))
    return total


def _postgres_backends(url: str) -> list[int]:
    import psycopg

    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [BENCH_DB]
        ).fetchall()
    return [pid for (pid,) in rows]


def _backlog() -> dict[str, int]:
    """Where the payments wait: not yet submitted, submitted but not decided, events not yet
    dispatched, webhook deliveries not yet delivered."""
    import psycopg

    with psycopg.connect(database_url(BENCH_DB), autocommit=True) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM payments WHERE status = 'pending' AND submitted_at IS NULL),"
            " (SELECT count(*) FROM payments WHERE status = 'pending' AND submitted_at IS NOT NULL),"
            " (SELECT count(*) FROM payments WHERE status = 'success'),"
            " (SELECT count(*) FROM events WHERE dispatched_at IS NULL),"
            " (SELECT count(*) FROM webhook_logs WHERE status <> 'success')"
        ).fetchone()
    return dict(zip(("unsubmitted", "submitted", "success", "undispatched", "undelivered"), row, strict=True))


def _transactions() -> int:
    """Committed + rolled-back transactions of the bench database so far (PostgreSQL's own
    counter: a load-independent measure of how many round trips the pipeline batches)."""
    import psycopg

    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        (count,) = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s", [BENCH_DB]
        ).fetchone()
    return int(count)


def _snapshot(groups: dict[str, int]) -> dict[str, float]:
    tree = _children()
    cpu = {name: _tree_cpu(pid, tree) for name, pid in groups.items()}
    cpu.update({f"pg:{pid}": _cpu_seconds(pid) for pid in _postgres_backends(database_url(BENCH_DB))})
    return cpu


# --- helper processes ----------------------------------------------------------------------
def _receiver_main(port_conn, cmd_conn) -> None:
    """A loopback webhook receiver (asyncio, keep-alive): first arrival per payment id."""
    arrivals: dict[str, float] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                now = time.time()
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    arrivals.setdefault(json.loads(body)["data"]["payment"]["id"], now)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port_conn.send(server.sockets[0].getsockname()[1])
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, cmd_conn.recv)
            if command == "dump":
                cmd_conn.send(dict(arrivals))
            else:
                return

    asyncio.run(main())


def _socket_main(url: str, origin: str, ready, cmd_conn) -> None:
    """One ``ws/merchant`` socket: first ``payment.success`` push per payment id."""
    import websockets

    arrivals: dict[str, float] = {}

    async def main() -> None:
        async with websockets.connect(url, origin=origin, max_queue=None) as ws:
            ready.set()
            loop = asyncio.get_running_loop()
            command = loop.run_in_executor(None, cmd_conn.recv)
            while not command.done():
                try:
                    raw = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    continue
                message = json.loads(raw)
                if message.get("event") == "payment.success":
                    arrivals.setdefault(message.get("object_id"), time.time())
            cmd_conn.send(arrivals)

    asyncio.run(main())


def _load_main(port: int, key_id: str, secret: str, rate: float, seconds: float, clients: int, out) -> None:
    """Paced creates through the front: (payment id, send time) per 201, and the others."""
    head = (
        f"POST /api/v1/payments HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"X-Api-Key: {key_id}\r\nX-Api-Secret: {secret}\r\nContent-Length: {len(BODY)}\r\n\r\n{BODY}"
    ).encode()
    created: list[tuple[str, float]] = []
    failures: dict[int, int] = {}

    async def client(index: int, began: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        interval = clients / rate
        n = 0
        while True:
            due = began + index * (interval / clients) + n * interval
            if due >= began + seconds:
                break
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            n += 1
            sent = time.time()
            writer.write(head)
            response = await reader.readuntil(b"\r\n\r\n")
            status = int(response.split(b" ", 2)[1])
            length = next(
                int(line.split(b":", 1)[1])
                for line in response.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            body = await reader.readexactly(length)
            if status == 201:
                created.append((json.loads(body)["id"], sent))
            else:
                failures[status] = failures.get(status, 0) + 1
        writer.close()

    async def main() -> None:
        began = time.monotonic()
        await asyncio.gather(*(client(i, began) for i in range(clients)))

    started = time.time()
    asyncio.run(main())
    out.send({"created": created, "failures": failures, "started": started, "ended": time.time()})


# --- the run -------------------------------------------------------------------------------
def _env(redis_port: int, front_port: int) -> dict[str, str]:
    env = dict(os.environ)
    base = f"http://127.0.0.1:{front_port}"
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url(BENCH_DB),
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        CELERY_BROKER_URL=f"redis://127.0.0.1:{redis_port}/1",
        DEMO_MODE="true",
        TEST_MODE="true",
        TEST_PROCESSING_DELAY="0",
        LOG_LEVEL="WARNING",
        API_RATE_LIMIT_PER_SECOND="0",
        WEBHOOK_ALLOW_PRIVATE_TARGETS="true",
        PUBLIC_BASE_URL=base,
        SIMULATOR_CALLBACK_BASE_URL=base,
        FRONT_PORTS=str(front_port),
        FRONT_BIND="127.0.0.1",
        PYTHONUNBUFFERED="1",
    )
    return env


def _setup_child() -> None:
    """In the bench database: a merchant, an API key and the receiver's endpoint."""
    import django

    django.setup()
    from payments.models import Merchant
    from payments.services.api_keys import api_key_create
    from webhooks.services.endpoints import endpoint_create

    merchant = Merchant.objects.create(name="Bench e2e", email="bench-e2e@example.com")
    issued = api_key_create(merchant=merchant)
    endpoint_create(merchant=merchant, url=sys.argv[3], event_types=["payment.success"], actor="bench")
    sys.stdout.write(json.dumps([{"key_id": issued.api_key.key_id, "secret": issued.secret}]) + "\n")


def _ticket(port: int, key_id: str, secret: str) -> str:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/api/v1/realtime/tickets", headers={"X-Api-Key": key_id, "X-Api-Secret": secret})
    response = conn.getresponse()
    body = json.loads(response.read())
    assert response.status == 201, body
    return body["ticket"]


def _profile(groups: dict[str, int], out_dir: str | None) -> list[subprocess.Popen]:
    if not out_dir:
        return []
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    py_spy = Path(sys.executable).parent / "py-spy"
    profilers = []
    for role, pid in groups.items():
        if role in {"front", "redis", "beat"}:
            continue
        out = Path(out_dir) / f"{role}.txt"
        argv = [str(py_spy), "record", "--nonblocking", "--subprocesses", "-r", "50", "-d", str(int(SECONDS))]
        argv += ["-f", "raw", "-o", str(out), "--pid", str(pid)]
        profilers.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return profilers


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def _stop(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def run() -> list[dict]:
    redis_port, front_port = free_port(), free_port()
    run_dir = Path(os.environ.get("E2E_RUN_DIR", "/tmp")) / f"tender-bench-e2e-{os.getpid()}"
    run_dir.mkdir(parents=True, exist_ok=True)
    env = _env(redis_port, front_port)
    env.update(
        TENDER_RUN_DIR=str(run_dir),
        WSGI_BIND=f"unix:{run_dir / 'gunicorn.sock'}",
        ASGI_BIND=f"unix:{run_dir / 'daphne.sock'}",
    )
    redis_proc = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    procs: dict[str, subprocess.Popen] = {}
    ctx = multiprocessing.get_context("spawn")
    try:
        _wait_port(redis_port)
        with throwaway_database(BENCH_DB, env):
            port_recv, port_send = ctx.Pipe(False)
            receiver_cmd, receiver_end = ctx.Pipe()
            receiver = ctx.Process(target=_receiver_main, args=(port_send, receiver_end), daemon=True)
            receiver.start()
            receiver_port = port_recv.recv()
            setup = run_child("bench.end_to_end", env, "setup", f"http://127.0.0.1:{receiver_port}/")[0]
            for role in ROLES:
                procs[role] = subprocess.Popen(
                    [sys.executable, "-m", "config.serving", "run", role],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=open(run_dir / f"{role}.log", "wb"),  # noqa: SIM115
                    start_new_session=True,
                )
            _wait_port(front_port)
            _wait_http(front_port, "/health")  # gunicorn's workers boot slowly on a loaded machine
            time.sleep(8)  # workers: connect, mingle, heartbeat
            socket_cmd, socket_end = ctx.Pipe()
            ready = ctx.Event()
            ticket = _ticket(front_port, setup["key_id"], setup["secret"])
            ws = ctx.Process(
                target=_socket_main,
                args=(f"ws://127.0.0.1:{front_port}/ws/merchant?ticket={ticket}", f"http://127.0.0.1:{front_port}",
                      ready, socket_end),
                daemon=True,
            )  # fmt: skip
            ws.start()
            assert ready.wait(20), "the merchant socket did not connect"

            groups = {role: proc.pid for role, proc in procs.items()}
            groups["redis"] = redis_proc.pid
            # What the layout burns doing nothing (polls, heartbeats, sweeps) is subtracted.
            idle_from, idle_began = _snapshot(groups), time.monotonic()
            time.sleep(IDLE_SECONDS)
            idle = _rates(idle_from, _snapshot(groups), time.monotonic() - idle_began)
            load1 = os.getloadavg()[0]
            before, began, xacts_before = _snapshot(groups), time.monotonic(), _transactions()
            load_recv, load_send = ctx.Pipe(False)
            load = ctx.Process(
                target=_load_main,
                args=(front_port, setup["key_id"], setup["secret"], RATE, SECONDS, CLIENTS, load_send),
            )
            load.start()
            profilers = _profile(groups, os.environ.get("E2E_PROFILE_DIR"))
            result = load_recv.recv()
            load.join()
            created = dict(result["created"])

            deadline, shown = time.monotonic() + DRAIN_SECONDS, 0.0
            while time.monotonic() < deadline:
                receiver_cmd.send("dump")
                webhooks = receiver_cmd.recv()
                if sum(1 for pid in created if pid in webhooks) >= len(created):
                    break
                if time.monotonic() - shown >= 5:
                    shown = time.monotonic()
                    sys.stderr.write(f"# backlog {_backlog()} webhooks received {len(webhooks)}\n")
                time.sleep(0.5)
            time.sleep(1)  # the last pushes
            after, elapsed = _snapshot(groups), time.monotonic() - began
            time.sleep(1)  # PostgreSQL publishes its counters at most once a second
            xacts = _transactions() - xacts_before
            for profiler in profilers:
                profiler.wait(30)
            load2 = os.getloadavg()[0]
            receiver_cmd.send("dump")
            webhooks = receiver_cmd.recv()
            socket_cmd.send("stop")
            pushes = socket_cmd.recv()
            receiver_cmd.send("stop")
            ws.join(5)
            receiver.join(5)
    finally:
        for proc in procs.values():
            _stop(proc)
        _stop(redis_proc)
        shutil.rmtree(run_dir, ignore_errors=True)
    busy = {group: max(0.0, cpu - idle.get(group, 0.0) * elapsed) for group, cpu in _rates(before, after, 1.0).items()}
    return _rows(result, created, webhooks, pushes, busy, (load1, load2), xacts)


def _rates(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    """CPU seconds per second of each group between two snapshots (PostgreSQL backends summed)."""
    cpu: dict[str, float] = {}
    for key, value in after.items():
        group = "postgres" if key.startswith("pg:") else key
        cpu[group] = cpu.get(group, 0.0) + (value - before.get(key, 0.0)) / seconds
    return cpu


def _rows(result, created, webhooks, pushes, cpu, loads, xacts) -> list[dict]:
    window_end = result["started"] + SECONDS
    done_at = {pid: max(webhooks[pid], pushes[pid]) for pid in created if pid in webhooks and pid in pushes}
    in_window = sum(1 for t in done_at.values() if t <= window_end)
    complete_rate = in_window / SECONDS
    to_webhook = [(webhooks[pid] - sent) * 1000 for pid, sent in created.items() if pid in webhooks]
    to_push = [(pushes[pid] - sent) * 1000 for pid, sent in created.items() if pid in pushes]
    failures = sum(result["failures"].values())
    load_seconds = max(SECONDS, result["ended"] - result["started"])
    name = "end_to_end[make run layout]"
    rows = [
        {
            "benchmark": name,
            "metric": "complete payments/s (created -> success -> webhook + push), in the window",
            "value": round(complete_rate, 1),
            "unit": "payments/s",
            "ceiling": f"offered {RATE:.0f}/s",
            "target": f">= {TARGET_COMPLETE_PER_SECOND:.0f}/s, no errors",
            "ok": complete_rate >= TARGET_COMPLETE_PER_SECOND and failures == 0,
        },
        {
            "benchmark": name,
            # over the time the creates really took: a loaded machine stretches the offered window
            "metric": f"created/s ({len(created)} in {load_seconds:.0f} s, {CLIENTS} clients), non-201",
            "value": round(len(created) / load_seconds, 1),
            "unit": "payments/s",
            "ceiling": "",
            "target": f"non-201: {failures} {result['failures'] or ''}".strip(),
            "ok": failures == 0,
        },
        {
            "benchmark": name,
            "metric": f"completed within {DRAIN_SECONDS:.0f} s of drain",
            "value": f"{len(done_at)}/{len(created)}",
            "unit": "payments",
            "ceiling": "",
            "target": "all",
            "ok": len(done_at) == len(created),
        },
        {
            "benchmark": name,
            "metric": "create -> webhook p50 / p99",
            "value": f"{_pct(to_webhook, 0.5):.0f} / {_pct(to_webhook, 0.99):.0f}",
            "unit": "ms",
            "ceiling": "",
            "target": "",
            "ok": None,
        },
        {
            "benchmark": name,
            "metric": "create -> push p50 / p99",
            "value": f"{_pct(to_push, 0.5):.0f} / {_pct(to_push, 0.99):.0f}",
            "unit": "ms",
            "ceiling": "",
            "target": "",
            "ok": None,
        },
    ]
    per = max(1, len(created))  # the work of every created payment is in the CPU figures
    rows.append(
        {
            "benchmark": name,
            "metric": "PostgreSQL transactions per payment (all processes, incl. idle sweeps)",
            "value": round(xacts / per, 2),
            "unit": "xacts",
            "ceiling": "",
            "target": "",
            "ok": None,
        }
    )
    total = sum(v for group, v in cpu.items() if group not in ACQUIRER_ROLES)  # the gateway's own
    for group in (*ROLES, "postgres", "redis"):
        rows.append(
            {
                "benchmark": name,
                "metric": f"CPU per payment: {group}{' (the simulated acquirer)' if group in ACQUIRER_ROLES else ''}",
                "value": round(cpu.get(group, 0.0) * 1000 / per, 2),
                "unit": "ms",
                "ceiling": "",
                "target": "",
                "ok": None,
            }
        )
    rows.append(
        {
            "benchmark": name,
            "metric": "CPU per payment: the gateway (all of the above but the simulated acquirer)",
            "value": round(total * 1000 / per, 2),
            "unit": "ms",
            "ceiling": f"2 cores = {2000 / max(total * 1000 / per, 0.001):.0f} payments/s at 100 %",
            "target": f"load average {loads[0]:.1f} -> {loads[1]:.1f}",
            "ok": None,
        }
    )
    return rows


if __name__ == "__main__":
    if sys.argv[1:3] == ["--child", "setup"]:
        _setup_child()
