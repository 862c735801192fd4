"""The set-based comparison: load a file's lines with COPY, then classify every line and
every payment of the period in SQL. No Python loop touches individual rows here.

``recon_items`` (a temporary table dropped at commit) holds one row per item: a primary
settlement line with the payment it names, a payment of the period no line names, or a
duplicate line. The CASE below gives each item exactly one class (a ``duplicate`` payment
was charged like a ``success``, so it matches a success line: its automatic refund is a
refund, and refunds are not in the settlement file); counts, discrepancies
and their links are then derived from that table with INSERT … SELECT.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import connection

from reconciliation.parsing import Row

COPY_SQL = (
    "COPY reconciliation_settlement_lines "
    "(file_id, line_no, provider_reference, payment_id, order_id, amount, currency, status, settled_at, fee) "
    "FROM STDIN"
)


def lines_copy(*, file_id: int, rows: Iterable[Row]) -> int:
    """Stream ``rows`` into ``reconciliation_settlement_lines`` with COPY; return the count.
    Runs on Django's connection, so it commits or rolls back with the caller's transaction."""
    connection.ensure_connection()
    count = 0
    with connection.connection.cursor() as cursor, cursor.copy(COPY_SQL) as copy:
        for row in rows:
            copy.write_row((file_id, *row))
            count += 1
    return count


# The line that stands for a payment is its first success line (money moved), else its
# first line; further lines for the same payment (or, without a payment id, the same
# provider reference) are duplicates.
CLASSIFY_SQL = """
CREATE TEMPORARY TABLE recon_items ON COMMIT DROP AS
WITH ranked AS (
    SELECT l.id, l.line_no, l.provider_reference, l.payment_id, l.amount, l.currency, l.status,
           row_number() OVER (
               PARTITION BY COALESCE(NULLIF(l.payment_id, ''), 'ref:' || l.provider_reference)
               ORDER BY (l.status = 'success') DESC, l.line_no
           ) AS rn
    FROM reconciliation_settlement_lines l
    WHERE l.file_id = %(file_id)s
),
items AS (
    SELECT r.id AS line_id, r.rn, r.provider_reference, r.amount AS line_amount,
           r.currency AS line_currency, r.status AS line_status,
           p.id AS payment_id, p.merchant_id, p.status AS our_status, p.amount AS our_amount,
           p.currency AS our_currency,
           r.payment_id AS line_payment_id
    FROM ranked r
    LEFT JOIN payments p ON p.id = r.payment_id AND p.provider = %(provider)s
    UNION ALL
    SELECT NULL, 1, COALESCE(p.provider_reference, ''), NULL, NULL, NULL,
           p.id, p.merchant_id, p.status, p.amount, p.currency, NULL
    FROM payments p
    WHERE p.provider = %(provider)s
      AND p.created_at >= %(period_start)s AND p.created_at < %(period_end)s
      AND NOT EXISTS (
          SELECT 1 FROM ranked r WHERE r.payment_id = p.id AND r.rn = 1
      )
)
SELECT i.*,
       CASE
           WHEN i.rn > 1 THEN 'duplicate_line'
           WHEN i.line_id IS NOT NULL AND i.payment_id IS NULL THEN 'unknown_to_us'
           WHEN i.line_id IS NULL THEN
               CASE
                   WHEN i.our_status IN ('success', 'duplicate') THEN 'ours_success_provider_not'
                   WHEN i.our_status = 'pending' THEN 'pending_unsettled'
                   ELSE 'both_failed'
               END
           WHEN i.line_status = 'success' THEN
               CASE
                   WHEN i.line_currency <> i.our_currency THEN 'currency_mismatch'
                   WHEN i.line_amount <> i.our_amount THEN 'amount_mismatch'
                   WHEN i.our_status IN ('success', 'duplicate') THEN 'matched'
                   ELSE 'provider_settled_ours_not'
               END
           ELSE
               CASE
                   WHEN i.our_status IN ('success', 'duplicate') THEN 'ours_success_provider_not'
                   WHEN i.our_status = 'pending' THEN 'provider_failed_ours_pending'
                   ELSE 'both_failed'
               END
       END AS klass
FROM items i
"""

COUNTS_SQL = """
INSERT INTO reconciliation_run_counts (run_id, merchant_id, klass, count)
SELECT %(run_id)s, merchant_id, klass, count(*) FROM recon_items GROUP BY merchant_id, klass
RETURNING klass, count
"""

# One discrepancy per subject and class, ever: a run that sees a known one only links it
# and refreshes last_run/last_seen_at (staff decisions on it stay as they are).
DISCREPANCIES_SQL = """
WITH found AS (
    SELECT i.*,
           CASE
               WHEN i.klass = 'duplicate_line' THEN 'dup:' || i.provider_reference || ':' || l.line_no
               WHEN i.payment_id IS NOT NULL THEN i.payment_id
               ELSE 'ref:' || i.provider_reference || ':' || COALESCE(i.line_payment_id, '')
           END AS subject_key,
           CASE i.klass
               WHEN 'provider_settled_ours_not' THEN %(scenario1_default)s
               WHEN 'ours_success_provider_not' THEN 'mark_failed'
               WHEN 'provider_failed_ours_pending' THEN 'mark_failed'
               ELSE 'none'
           END AS proposed
    FROM recon_items i
    LEFT JOIN reconciliation_settlement_lines l ON l.id = i.line_id
    WHERE i.klass NOT IN ('matched', 'both_failed', 'pending_unsettled')
)
INSERT INTO reconciliation_discrepancies (
    id, provider, subject_key, klass, merchant_id, payment_id, run_id, last_run_id, line_id,
    provider_reference, our_status, our_amount, our_currency, provider_status, provider_amount,
    provider_currency, proposed_action, status, version, note, resolved_by, created_at, last_seen_at
)
SELECT 'disc_' || substr(md5(random()::text || f.subject_key), 1, 16),
       %(provider)s, f.subject_key, f.klass, f.merchant_id, f.payment_id, %(run_id)s, %(run_id)s, f.line_id,
       f.provider_reference, COALESCE(f.our_status, ''), f.our_amount, COALESCE(f.our_currency, ''),
       COALESCE(f.line_status, ''), f.line_amount, COALESCE(f.line_currency, ''),
       CASE WHEN f.klass = 'provider_settled_ours_not'
            THEN COALESCE(pol.provider_settled_ours_not, f.proposed) ELSE f.proposed END,
       'open', 1, '', '', now(), now()
FROM found f
LEFT JOIN reconciliation_policies pol ON pol.merchant_id = f.merchant_id
ON CONFLICT (provider, subject_key, klass)
DO UPDATE SET last_run_id = EXCLUDED.last_run_id, last_seen_at = EXCLUDED.last_seen_at
RETURNING id, (xmax = 0) AS inserted
"""

LINKS_SQL = """
INSERT INTO reconciliation_run_discrepancies (run_id, discrepancy_id)
SELECT %(run_id)s, d.id FROM reconciliation_discrepancies d WHERE d.last_run_id = %(run_id)s
ON CONFLICT DO NOTHING
"""

# A discrepancy whose payment now agrees with the provider (e.g. a success absent from an
# hourly file, present in the daily one) closes on its own. A duplicate line stays: it
# happened, whatever the payment's state.
AUTO_CLOSE_SQL = """
UPDATE reconciliation_discrepancies d
SET status = 'resolved', resolved_by = 'reconciliation', resolved_at = now(), version = d.version + 1,
    note = 'agrees with the provider in run ' || %(run_id)s
FROM recon_items i
WHERE d.status = 'open' AND d.provider = %(provider)s AND d.payment_id = i.payment_id
  AND i.klass IN ('matched', 'both_failed') AND d.klass <> 'duplicate_line' AND d.last_run_id <> %(run_id)s
RETURNING d.id
"""


def items_classify(*, file_id: int, provider: str, period_start: datetime, period_end: datetime) -> None:
    """Build ``recon_items`` for one file (inside the caller's transaction)."""
    with connection.cursor() as cursor:
        # Sorts and hash joins over a million rows stay in memory instead of spilling.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        # Normally gone at the last commit; not when the caller (a test) nests runs.
        cursor.execute("DROP TABLE IF EXISTS recon_items")
        cursor.execute(
            CLASSIFY_SQL,
            {"file_id": file_id, "provider": provider, "period_start": period_start, "period_end": period_end},
        )
        cursor.execute("ANALYZE recon_items")


def items_store(*, run_id: str, provider: str) -> tuple[dict[str, int], int, list[str]]:
    """Store per-merchant counts, discrepancies and run links from ``recon_items``; return
    (counts per class over all merchants, number of new discrepancies, ids of the open
    discrepancies this run closed because the payment now agrees)."""
    params = {"run_id": run_id, "provider": provider, "scenario1_default": "accept"}
    counts: dict[str, int] = {}
    with connection.cursor() as cursor:
        cursor.execute(COUNTS_SQL, params)
        for klass, count in cursor.fetchall():
            counts[klass] = counts.get(klass, 0) + count
        cursor.execute(DISCREPANCIES_SQL, params)
        new = sum(1 for _id, inserted in cursor.fetchall() if inserted)
        cursor.execute(LINKS_SQL, params)
        cursor.execute(AUTO_CLOSE_SQL, params)
        closed = [row[0] for row in cursor.fetchall()]
    return counts, new, closed


def items_counts() -> dict[str, int]:
    """Counts per class of ``recon_items`` (for dry runs, which store nothing)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT klass, count(*) FROM recon_items GROUP BY klass")
        return dict(cursor.fetchall())
