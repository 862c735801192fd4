"""Batch acceptance: ``POST /api/v1/payments/batch`` with 1,000 UPI items, through a real
gunicorn sync worker over loopback, until the 202 arrives (target: within 1 s).

Beside it, in the same run and database, the floor of that work: the same kind of bulk
writes for 1,000 items (orders, payments, timeline rows, events) as bare SQL over ``unnest``
with no HTTP, JSON, validation or snapshots. The difference is the gateway's own cost
per batch (DRF validation of each item, snapshots, the database checks).

The time for the accepted payments to *complete* is not benchmarked here: it is the
pipeline's end-to-end throughput (bench/end_to_end.py) applied to 1,000 payments.

Environment: BATCH_BENCH_ROUNDS (default 7), BATCH_BENCH_REDIS_DB (default 14).
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
import uuid

from bench._support import ROOT, database_url, free_port, redis_url, throwaway_database

BENCH_DB = "tender_bench_batches"
BIN = os.path.dirname(sys.executable)
MERCHANT_ID = "00000000-0000-0000-0000-00000000b0b0"
KEY_ID, SECRET = "key_test_benchbatches", "secret_test_benchbatches"
ITEMS = 1000
TARGET_MS = 1000.0

BARE_SQL = """
WITH items AS (
    SELECT 'order_b' || g || %(tag)s AS order_id, 'pay_b' || g || %(tag)s AS id, 1000 + g AS amount,
           'evt_b' || g || %(tag)s AS event_id
      FROM generate_series(1, %(n)s) g
),
o AS (INSERT INTO orders (id, merchant_id, amount, currency, notes, status, created_at, updated_at)
      SELECT order_id, %(m)s, amount, 'INR', '{}'::jsonb, 'attempted', now(), now() FROM items),
p AS (INSERT INTO payments (id, merchant_id, order_id, amount, currency, method, vpa, status, captured, version,
                            provider, created_at, updated_at)
      SELECT id, %(m)s, order_id, amount, 'INR', 'upi', 'success@upi', 'pending', false, 1, 'simulator', now(), now()
        FROM items),
t AS (INSERT INTO timeline_entries (object_type, object_id, payment_id, to_status, version, detail, source, created_at)
      SELECT 'payment', id, id, 'pending', 1, '', 'bench', now() FROM items)
INSERT INTO events (id, merchant_id, type, object_type, object_id, version, data, created_at)
SELECT event_id, %(m)s, 'payment.created', 'payment', id, 1, '{}'::jsonb, now() FROM items
"""


def _env() -> dict[str, str]:
    redis_db = int(os.environ.get("BATCH_BENCH_REDIS_DB", "14"))
    return dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url(BENCH_DB),
        DEMO_MODE="true",
        LOG_LEVEL="WARNING",
        API_RATE_LIMIT_PER_SECOND="0",
        BATCH_RATE_LIMIT_PER_HOUR="0",
        REDIS_URL=redis_url(redis_db),
        CELERY_BROKER_URL=redis_url(redis_db + 1),
        PYTHONUNBUFFERED="1",
    )


def _body(round_no: int) -> bytes:
    items = [
        {"reference": f"r{round_no}-{i}", "amount": 1000 + i, "currency": "INR", "method": "upi", "vpa": "success@upi"}
        for i in range(ITEMS)
    ]
    return json.dumps({"reference": f"bench-{round_no}-{uuid.uuid4().hex[:8]}", "items": items}).encode()


def run() -> list[dict]:
    import psycopg
    import redis
    import requests  # noqa: TID251 - the benchmark is a client, not the gateway

    rounds = int(os.environ.get("BATCH_BENCH_ROUNDS", "7"))
    env = _env()
    with throwaway_database(BENCH_DB, env):
        with psycopg.connect(database_url(BENCH_DB), autocommit=True) as conn:
            conn.execute(
                "INSERT INTO merchants (id, name, email, is_active, created_at, updated_at)"
                " VALUES (%s, 'Bench', 'bench-batches@example.com', true, now(), now())",
                [MERCHANT_ID],
            )
            conn.execute(
                "INSERT INTO api_keys (key_id, merchant_id, mode, secret_hash, label, created_at)"
                " VALUES (%s, %s, 'test', %s, 'bench', now())",
                [KEY_ID, MERCHANT_ID, hashlib.sha256(SECRET.encode()).hexdigest()],
            )
        port = free_port()
        server = subprocess.Popen(
            [os.path.join(BIN, "gunicorn"), "config.wsgi:application", "-b", f"127.0.0.1:{port}",
             "--workers", "1", "--worker-class", "sync", "--timeout", "60", "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            session = requests.Session()
            session.headers.update({"X-Api-Key": KEY_ID, "X-Api-Secret": SECRET, "Content-Type": "application/json"})
            url = f"http://127.0.0.1:{port}/api/v1/payments/batch"
            deadline = time.monotonic() + 30
            while True:
                try:
                    session.get(f"http://127.0.0.1:{port}/health", timeout=2)
                    break
                except requests.RequestException:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            ours: list[float] = []
            bare: list[float] = []
            for round_no in range(rounds + 1):  # round 0 warms imports and connections
                body = _body(round_no)
                started = time.perf_counter()
                response = session.post(url, data=body, timeout=30)
                elapsed = (time.perf_counter() - started) * 1000
                assert response.status_code == 202 and response.json()["accepted"] == ITEMS, response.text[:300]
                with psycopg.connect(database_url(BENCH_DB), autocommit=True) as conn:
                    started = time.perf_counter()
                    with conn.transaction():
                        conn.execute(BARE_SQL, {"tag": f"x{round_no}", "n": ITEMS, "m": MERCHANT_ID})
                    bare_ms = (time.perf_counter() - started) * 1000
                if round_no:
                    ours.append(elapsed)
                    bare.append(bare_ms)
        finally:
            server.terminate()
            server.wait(timeout=15)
            client = redis.Redis.from_url(env["CELERY_BROKER_URL"])
            client.flushdb()  # the nudges of this throwaway database's events
    p50, worst = statistics.median(ours), max(ours)
    ceiling = f"bare bulk SQL, 1,000 items: p50 {statistics.median(bare):.1f} ms, max {max(bare):.1f} ms"
    return [
        {"benchmark": "batches", "metric": "1,000-item batch accepted (202), p50", "value": round(p50, 1),
         "unit": "ms", "ceiling": ceiling, "target": TARGET_MS, "ok": p50 < TARGET_MS},
        {"benchmark": "batches", "metric": "1,000-item batch accepted (202), max", "value": round(worst, 1),
         "unit": "ms", "ceiling": None, "target": TARGET_MS, "ok": worst < TARGET_MS},
        {"benchmark": "batches", "metric": "rounds", "value": len(ours), "unit": "batches", "ceiling": None,
         "target": None, "ok": None},
    ]  # fmt: skip


if __name__ == "__main__":
    from bench.__main__ import main

    sys.exit(main(["batches"]))
