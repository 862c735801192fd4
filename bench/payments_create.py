"""Payment-create throughput and latency, beside a bare ceiling measured in the same run.

A throwaway database (``tender_bench_payments``) is migrated and given one merchant and API
key. For each serving layout (``make-run``: the Procfile's nginx front → gunicorn sync
workers with pooled connections, config/serving.py; gunicorn sync and gthread workers
reached directly; daphne = ASGI) the server is started with bench-only settings that add ``POST /bench/bare-payment``
(:mod:`bench._payments_urls`: the same four inserts, order + payment + timeline + event, in
one transaction, with no auth, validation or DRF). ``wrk`` (or a Python load generator when
wrk is not installed) then drives ``POST /api/v1/payments`` (UPI, implicit order) and the bare
view at 4, 16 and 64 keep-alive connections; at 16 also with a unique ``Idempotency-Key``
per request (informational: the claim INSERT and the stored reply add two statements).
Rate limiting is off; the after-commit outbox nudge of each payment is real (no worker
consumes it; the queues are purged afterwards).

Targets (issue 3): at 16 connections ≥ 70 % of the ceiling's throughput and p99 ≤ 50 ms.
Each point is the median of PAYMENTS_BENCH_ROUNDS (default 3) interleaved slices of
PAYMENTS_BENCH_SECONDS (default 4) for the ceiling and for ours.
Environment: PAYMENTS_BENCH_LAYOUTS (default
``make-run,gunicorn,gthread,daphne``), PAYMENTS_BENCH_GUNICORN_WORKERS (default 2), PAYMENTS_BENCH_REDIS_DB
(default 12).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from bench._support import ROOT, database_url, free_port, redis_url, throwaway_database

BIN = Path(sys.executable).parent
BENCH_DB = "tender_bench_payments"
MERCHANT_ID = "7b6f2a1c-0000-4000-8000-00000000be0c"
KEY_ID, SECRET = "key_test_bench000001", "secret_test_bench_payments"  # throwaway bench DB
CONNECTIONS = (4, 16, 64)
BODY = json.dumps({"amount": 50000, "currency": "INR", "method": "upi", "vpa": "bench@upi"})
# (label, path, unique Idempotency-Key per request): the ceiling, ours as the issue measures
# it, and (at 16 connections, for information) ours as a careful merchant calls it.
TARGETS = (
    ("bare", "/bench/bare-payment", False),
    ("ours", "/api/v1/payments", False),
    ("keyed", "/api/v1/payments", True),
)
TARGET_SHARE = 0.70
TARGET_P99_MS = 50.0


def _sql(url: str, *statements: tuple[str, list]) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for sql, params in statements:
            conn.execute(sql, params)


def _env() -> dict[str, str]:
    redis_db = int(os.environ.get("PAYMENTS_BENCH_REDIS_DB", "12"))
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="bench._payments_settings",
        DATABASE_URL=database_url(BENCH_DB),
        DEMO_MODE="true",
        TEST_MODE="true",
        LOG_LEVEL="WARNING",
        API_RATE_LIMIT_PER_SECOND="0",
        REDIS_URL=redis_url(redis_db),
        CELERY_BROKER_URL=redis_url(redis_db + 1),
        CHANNEL_LAYER_PREFIX="tender-bench-payments",
        PYTHONUNBUFFERED="1",
    )
    return env


LAYOUTS = {
    # name -> argv (port filled in)
    "gunicorn": lambda port: [
        str(BIN / "gunicorn"), "config.wsgi:application", "-b", f"127.0.0.1:{port}",
        "--workers", os.environ.get("PAYMENTS_BENCH_GUNICORN_WORKERS", "2"), "--worker-class", "sync",
        "--keep-alive", "5", "--log-level", "warning",
    ],
    # threads let a long-poll (GET …/status?wait=N) hold a thread instead of a whole worker
    "gthread": lambda port: [
        str(BIN / "gunicorn"), "config.wsgi:application", "-b", f"127.0.0.1:{port}",
        "--workers", os.environ.get("PAYMENTS_BENCH_GUNICORN_WORKERS", "2"), "--worker-class", "gthread",
        "--threads", "4", "--keep-alive", "5", "--log-level", "warning",
    ],
    "daphne": lambda port: [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
}  # fmt: skip


# ``make run``'s layout: nginx in front of gunicorn sync workers (unix socket, pooled
# connections), started by config/serving.py exactly as the Procfile starts it.
MAKE_RUN_LAYOUT = "make-run"


def _launch(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def _start(layout: str, env: dict[str, str]) -> tuple[list[subprocess.Popen], int]:
    port = free_port()
    if layout == MAKE_RUN_LAYOUT:
        run_dir = Path(tempfile.mkdtemp(prefix=f"tender-bench-front-{os.getpid()}-"))
        env = {
            **env,
            "TENDER_RUN_DIR": str(run_dir),
            "FRONT_PORTS": str(port),
            "FRONT_BIND": "127.0.0.1",
            "WEB_WORKERS": os.environ.get("PAYMENTS_BENCH_GUNICORN_WORKERS", "2"),
        }
        procs = [_launch([sys.executable, "-m", "config.serving", "run", role], env) for role in ("web", "front")]
    else:
        procs = [_launch(LAYOUTS[layout](port), env)]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return procs, port
        time.sleep(0.1)
    for proc in procs:
        proc.kill()
    raise RuntimeError(f"{layout} did not start")


def _stop(procs: list[subprocess.Popen]) -> None:
    import signal

    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _headers(path: str) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if path.startswith("/api/"):
        headers.update({"X-Api-Key": KEY_ID, "X-Api-Secret": SECRET})
    return headers


# A unique Idempotency-Key per request (wrk runs one thread: a counter suffices).
_KEYED_LUA = """
local prefix = tostring(os.time()) .. "-" .. tostring(math.random(1, 1000000000))
local counter = 0
request = function()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = prefix .. "-" .. counter
  return wrk.format(nil, nil, nil, nil)
end
"""


def _wrk(port: int, path: str, connections: int, seconds: int, keyed: bool = False) -> dict[str, float]:
    lua = "wrk.method = 'POST'\nwrk.body = '" + BODY + "'\n"
    for name, value in _headers(path).items():
        lua += f"wrk.headers['{name}'] = '{value}'\n"
    if keyed:
        lua += _KEYED_LUA
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name,
             f"http://127.0.0.1:{port}{path}"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p50": _ms(re.search(r"\s50%\s+([\d.]+\w+)", out).group(1)),
        "p99": _ms(re.search(r"\s99%\s+([\d.]+\w+)", out).group(1)),
        "errors": float(errors.group(1)) if errors else 0.0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _python_load(port: int, path: str, connections: int, seconds: int, keyed: bool = False) -> dict[str, float]:
    """Fallback when wrk is missing: one keep-alive connection per thread (GIL-bound, so
    it understates throughput; install wrk for real numbers)."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    headers = _headers(path)

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        local: list[float] = []
        while time.monotonic() < stop_at:
            sent = {**headers, "Idempotency-Key": uuid.uuid4().hex} if keyed else headers
            started = time.perf_counter()
            conn.request("POST", path, BODY, sent)
            response = conn.getresponse()
            response.read()
            local.append(time.perf_counter() - started)
            if response.status != 201:
                with lock:
                    errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(local)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2] * 1000,
        "p99": latencies[int(len(latencies) * 0.99)] * 1000,
        "errors": float(errors[0]),
        "socket_errors": "",
    }


def _load(port: int, path: str, connections: int, seconds: int, keyed: bool = False) -> dict[str, float]:
    return (_wrk if shutil.which("wrk") else _python_load)(port, path, connections, seconds, keyed)


def _purge_queues(env: dict[str, str]) -> None:
    import redis

    client = redis.Redis.from_url(env["CELERY_BROKER_URL"])
    for name in ("default", "payments", "outbox", "webhooks", "webhook_retries", "reconciliation"):
        client.delete(name)


def run() -> list[dict]:
    seconds = int(os.environ.get("PAYMENTS_BENCH_SECONDS", "4"))
    rounds = int(os.environ.get("PAYMENTS_BENCH_ROUNDS", "3"))
    default_layouts = f"{MAKE_RUN_LAYOUT},gunicorn,gthread,daphne"
    layouts = [x for x in os.environ.get("PAYMENTS_BENCH_LAYOUTS", default_layouts).split(",") if x]
    binaries = {MAKE_RUN_LAYOUT: "gunicorn", "gunicorn": "gunicorn", "gthread": "gunicorn", "daphne": "daphne"}
    layouts = [x for x in layouts if (BIN / binaries[x]).exists()]  # gunicorn comes from requirements.txt
    env = _env()
    rows: list[dict] = []
    with throwaway_database(BENCH_DB, env):
        _sql(
            database_url(BENCH_DB),
            (
                "INSERT INTO merchants (id, name, email, is_active, created_at, updated_at)"
                " VALUES (%s, 'Bench', 'bench@example.com', true, now(), now())",
                [MERCHANT_ID],
            ),
            (
                "INSERT INTO api_keys (key_id, merchant_id, mode, secret_hash, label, created_at, last_used_at)"
                " VALUES (%s, %s, 'test', %s, 'bench', now(), now())",
                [KEY_ID, MERCHANT_ID, hashlib.sha256(SECRET.encode()).hexdigest()],
            ),
        )
        for layout in layouts:
            procs, port = _start(layout, env)
            try:
                for path in ("/api/v1/payments", "/bench/bare-payment"):
                    _load(port, path, 4, 2)  # warm up: connections, imports, caches
                results: dict[tuple[str, int], dict[str, float]] = {}
                for connections in CONNECTIONS:
                    # Interleave short slices of ceiling and ours and keep the medians, so a
                    # load spike from anything else on the machine hits both sides alike.
                    targets = TARGETS if connections == 16 else TARGETS[:2]
                    slices: dict[str, list[dict[str, float]]] = {}
                    for _ in range(rounds):
                        for label, path, keyed in targets:
                            slices.setdefault(label, []).append(_load(port, path, connections, seconds, keyed))
                    for label, runs in slices.items():
                        results[(label, connections)] = _median(runs)
            finally:
                _stop(procs)
                _purge_queues(env)
                for run_dir in Path(tempfile.gettempdir()).glob(f"tender-bench-front-{os.getpid()}-*"):
                    shutil.rmtree(run_dir, ignore_errors=True)
            rows.extend(_rows(layout, results))
    return rows


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    merged: dict[str, float] = {}
    for key in ("rps", "p50", "p99"):
        merged[key] = statistics.median(run[key] for run in runs)
    merged["errors"] = sum(run["errors"] for run in runs)
    return merged


def _rows(layout: str, results: dict[tuple[str, int], dict[str, float]]) -> list[dict]:
    rows: list[dict] = []
    name = f"payments_create[{layout}]"
    for connections in CONNECTIONS:
        ours, bare = results[("ours", connections)], results[("bare", connections)]
        gated = connections == 16
        share = ours["rps"] / bare["rps"] if bare["rps"] else 0.0
        rows += [
            {
                "benchmark": name,
                "metric": f"throughput c={connections}",
                "value": round(ours["rps"], 1),
                "unit": "req/s",
                "ceiling": round(bare["rps"], 1),
                "target": f">= {TARGET_SHARE:.0%} of ceiling" if gated else f"{share:.0%} of ceiling",
                "ok": (share >= TARGET_SHARE and ours["errors"] == 0) if gated else ours["errors"] == 0,
            },
            {
                "benchmark": name,
                "metric": f"p50 c={connections}",
                "value": round(ours["p50"], 2),
                "unit": "ms",
                "ceiling": round(bare["p50"], 2),
                "target": "",
                "ok": None,
            },
            {
                "benchmark": name,
                "metric": f"p99 c={connections}",
                "value": round(ours["p99"], 2),
                "unit": "ms",
                "ceiling": round(bare["p99"], 2),
                "target": f"<= {TARGET_P99_MS:.0f} ms" if gated else "",
                "ok": ours["p99"] <= TARGET_P99_MS if gated else None,
            },
        ]
        if ours["errors"] or bare["errors"]:
            rows.append(
                {
                    "benchmark": name,
                    "metric": f"non-2xx c={connections}",
                    "value": ours["errors"],
                    "unit": "responses",
                    "ceiling": bare["errors"],
                    "target": "0",
                    "ok": False,
                }
            )
        keyed = results.get(("keyed", connections))
        if keyed is not None:
            keyed_share = keyed["rps"] / bare["rps"] if bare["rps"] else 0.0
            rows += [
                {
                    "benchmark": name,
                    "metric": f"throughput c={connections}, Idempotency-Key",
                    "value": round(keyed["rps"], 1),
                    "unit": "req/s",
                    "ceiling": round(bare["rps"], 1),
                    "target": f"{keyed_share:.0%} of ceiling (info)",
                    "ok": keyed["errors"] == 0,
                },
                {
                    "benchmark": name,
                    "metric": f"p99 c={connections}, Idempotency-Key",
                    "value": round(keyed["p99"], 2),
                    "unit": "ms",
                    "ceiling": round(bare["p99"], 2),
                    "target": "(info)",
                    "ok": None,
                },
            ]
    return rows
