"""Reconciliation at scale: 1,000,000 settlement lines against 1,000,000 payments.

The parent creates a throwaway database (``tender_bench_recon``), migrates it, and runs
the measurement in a fresh child process so ``ru_maxrss`` is the reconciliation's own
peak, not migrate's. Payments and orders are generated with ``generate_series`` directly
in SQL; the settlement file is produced by SQL as CSV bytes (as a provider would deliver
it), then reconciled by the real service: parse + COPY + set-based classification +
storage, then the policies' actions. PostgreSQL does the heavy lifting; the Python
process only streams the file through the parser into COPY.

Injected per 100,000 payments: 100 settled by the provider while ours failed (accepted),
100 with a changed amount, 100 successes missing from the file, 100 successes the provider
failed, 100 pending the provider failed (marked failed); plus 100 lines unknown to us and
100 duplicate lines. For comparison, a naive per-line ORM loop classifies a 10,000-line
sample.

Environment: RECON_BENCH_PAYMENTS (default 1000000).
"""

from __future__ import annotations

import json
import os
import sys
import time

from bench._support import ROOT, database_url, run_child, throwaway_database

BENCH_DB = "tender_bench_recon"
TARGET_SECONDS = 60.0
TARGET_MIB = 1024.0
SAMPLE = 10_000


def run() -> list[dict]:
    count = int(os.environ.get("RECON_BENCH_PAYMENTS", "1000000"))
    env = dict(
        os.environ,
        DATABASE_URL=database_url(BENCH_DB),
        DJANGO_SETTINGS_MODULE="config.settings",
        DEMO_MODE="true",
        LOG_LEVEL="WARNING",
        # The outbox nudges of the actions stay in this process: the bench must not fill
        # a shared broker with thousands of messages for a database that is then dropped.
        CELERY_BROKER_URL="memory://",
    )
    with throwaway_database(BENCH_DB, env):
        return run_child("bench.reconciliation", env, str(count))


# --- the child: runs against the bench database -------------------------------------------

GENERATE_SQL = """
INSERT INTO merchants (id, name, email, is_active, created_at, updated_at)
SELECT ('00000000-0000-0000-0000-' || lpad(m::text, 12, '0'))::uuid, 'Bench ' || m, 'bench' || m || '@example.com',
       true, now(), now()
FROM generate_series(1, 10) m;

INSERT INTO orders (id, merchant_id, amount, currency, receipt, notes, status, created_at, updated_at)
SELECT 'order_' || lpad(i::text, 16, '0'), ('00000000-0000-0000-0000-' || lpad((1 + i % 10)::text, 12, '0'))::uuid,
       10000 + (i % 5000), 'INR', NULL, '{}', 'created', now(), now()
FROM generate_series(1, %(n)s) i;

INSERT INTO payments (id, merchant_id, order_id, amount, currency, method, vpa, status, captured, version,
                      provider, provider_reference, created_at, updated_at)
SELECT 'pay_' || lpad(i::text, 16, '0'), ('00000000-0000-0000-0000-' || lpad((1 + i % 10)::text, 12, '0'))::uuid,
       'order_' || lpad(i::text, 16, '0'), 10000 + (i % 5000), 'INR', 'upi', 'customer@upi',
       CASE WHEN i % 1000 IN (1, 9) THEN 'failed' WHEN i % 1000 = 5 THEN 'pending'
            WHEN i % 10 = 7 THEN 'failed' ELSE 'success' END,
       false, 1, 'simulator', 'sim_' || lpad(i::text, 16, '0'),
       %(start)s::timestamptz + (i * interval '50 milliseconds'), now()
FROM generate_series(1, %(n)s) i;
ANALYZE merchants; ANALYZE orders; ANALYZE payments;
"""

# The provider's file: one line per payment it saw, with the injected disagreements.
FILE_SQL = """
COPY (
    SELECT provider_reference, payment_id, order_id, amount, currency, status, settled_at, fee FROM (
        SELECT p.provider_reference, p.id AS payment_id, p.order_id,
               CASE WHEN n % 1000 = 2 THEN p.amount + 1 ELSE p.amount END AS amount, p.currency,
               CASE WHEN n % 1000 = 1 THEN 'success'           -- ours failed: scenario 1
                    WHEN n % 1000 IN (4, 5) THEN 'failed'       -- ours success / pending
                    WHEN p.status = 'failed' THEN 'failed' ELSE 'success' END AS status,
               CASE WHEN n % 1000 IN (4, 5) OR (p.status = 'failed' AND n % 1000 <> 1) THEN ''
                    ELSE to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') END AS settled_at,
               p.amount / 50 AS fee, n
        FROM (SELECT p.*, substr(p.id, 5)::bigint AS n FROM payments p) p
        WHERE n % 1000 <> 3                               -- ours success, absent from the file
        UNION ALL
        SELECT 'sim_unknown_' || i, 'pay_U' || lpad(i::text, 15, '0'), 'order_x', 5000, 'INR', 'success',
               '2026-01-10T00:00:00Z', 100, i
        FROM generate_series(1, %(n)s / 1000) i
        UNION ALL
        SELECT p.provider_reference, p.id, p.order_id, p.amount, p.currency, 'success',
               to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), p.amount / 50,
               substr(p.id, 5)::bigint
        FROM payments p WHERE substr(p.id, 5)::bigint % 1000 = 6
    ) lines ORDER BY n
) TO STDOUT WITH (FORMAT csv, HEADER true)
"""


def _child(count: int) -> list[dict]:
    import resource

    import django

    django.setup()
    from datetime import UTC, datetime, timedelta

    from django.db import connection

    from payments.models import Payment
    from reconciliation.services.runs import run_finish, settlement_import

    start = datetime(2026, 1, 10, tzinfo=UTC)
    end = start + timedelta(days=1)
    rows: list[dict] = []

    def row(metric: str, value: float, unit: str, target: float | None = None, ok: bool | None = None) -> None:
        rows.append(
            {
                "benchmark": "reconciliation",
                "metric": metric,
                "value": round(value, 2),
                "unit": unit,
                "ceiling": None,
                "target": target,
                "ok": ok,
            }
        )

    t0 = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(GENERATE_SQL.replace("%(n)s", str(count)).replace("%(start)s", f"'{start.isoformat()}'"))
    generate_s = time.monotonic() - t0
    connection.ensure_connection()
    t0 = time.monotonic()
    buffer = bytearray()
    with connection.connection.cursor() as cursor, cursor.copy(FILE_SQL.replace("%(n)s", str(count))) as copy:
        for chunk in copy:
            buffer += chunk
    content = bytes(buffer)
    del buffer
    file_s = time.monotonic() - t0
    line_count = content.count(b"\n") - 1
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # How much of the import is the Python parser alone (no database)?
    from reconciliation.parsing import settlement_file_check, settlement_rows

    t0 = time.monotonic()
    settlement_file_check(content)
    for _row in settlement_rows(content):
        pass
    parse_s = time.monotonic() - t0

    t0 = time.monotonic()
    outcome = settlement_import(
        provider="simulator",
        period_start=start,
        period_end=end,
        content=content,
        filename="bench.csv",
        source="command",
    )
    import_s = time.monotonic() - t0
    t0 = time.monotonic()
    applied = run_finish(run_id=outcome.run.id)
    actions_s = time.monotonic() - t0
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total = import_s + actions_s

    # The naive way, for comparison: one ORM query and a Python decision per line.
    sample = content.split(b"\n", SAMPLE + 1)[1 : SAMPLE + 1]
    t0 = time.monotonic()
    naive: dict[str, int] = {}
    for raw in sample:
        fields = raw.decode().split(",")
        payment = Payment.objects.filter(pk=fields[1]).first()
        if payment is None:
            klass = "unknown_to_us"
        elif int(fields[3]) != payment.amount:
            klass = "amount_mismatch"
        elif fields[5] == "success":
            klass = "matched" if payment.status == "success" else "provider_settled_ours_not"
        else:
            klass = "ours_success_provider_not" if payment.status == "success" else "both_failed"
        naive[klass] = naive.get(klass, 0) + 1
    naive_s = time.monotonic() - t0

    row("payments", count, "rows")
    row("settlement lines", line_count, "rows")
    row("file size", len(content) / 1024 / 1024, "MiB")
    row("generate payments (SQL, setup)", generate_s, "s")
    row("produce file (SQL COPY TO, setup)", file_s, "s")
    row("import + classify (parse, COPY, SQL)", import_s, "s")
    row("  load: parse + validate + COPY", outcome.timings["load"], "s")
    row("    (parse + validate alone, no database)", parse_s, "s")
    row("  classify (SQL into recon_items)", outcome.timings["classify"], "s")
    row("  store counts, discrepancies, events", outcome.timings["store"], "s")
    row(f"policy actions ({applied} applied)", actions_s, "s")
    row("total reconciliation", total, "s", TARGET_SECONDS, total < TARGET_SECONDS)
    row("lines per second", line_count / import_s, "lines/s")
    row("peak memory (Python process, maxrss)", peak_mib, "MiB", TARGET_MIB, peak_mib < TARGET_MIB)
    row("memory before import (file bytes held)", rss_before, "MiB")
    row(f"naive ORM loop, {len(sample):,} lines", naive_s, "s")
    row("naive ORM loop extrapolated to the file", naive_s / len(sample) * line_count, "s")
    for klass, value in sorted(outcome.counts.items()):
        row(f"class {klass}", value, "items")
    return rows


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--child":
        sys.path.insert(0, str(ROOT))
        print(json.dumps(_child(int(sys.argv[2]))))
    else:
        from bench.__main__ import main

        sys.exit(main(["reconciliation"]))
