"""manage.py reconcile."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from reconciliation.models import Run, SettlementFile
from tests.reconciliation.helpers import line_for, payment_make, settlement_csv


def _call(*args: str) -> str:
    out = StringIO()
    call_command("reconcile", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_reconcile_a_file_then_again_is_a_no_op(alice, tmp_path):
    pending = payment_make(alice.merchant, status="pending")
    path = tmp_path / "settlement.csv"
    path.write_bytes(settlement_csv([line_for(pending)]))
    args = ("--provider", "simulator", "--from", "2026-01-10", "--to", "2026-01-11", "--file", str(path))
    dry = _call(*args, "--dry-run")
    assert "dry run: 1 lines classified; nothing stored or changed" in dry
    assert "provider_settled_ours_not      1" in dry
    assert Run.objects.count() == 0
    pending.refresh_from_db()
    assert pending.status == "pending"

    out = _call(*args)
    run = Run.objects.get()
    assert f"run {run.id}: 1 lines, 1 new discrepancies, 1 actions applied" in out
    pending.refresh_from_db()
    assert pending.status == "success"
    assert SettlementFile.objects.get().filename == "settlement.csv"

    again = _call(*args)
    assert f"already imported: this file is run {run.id}; nothing changed" in again
    assert Run.objects.count() == 1


@pytest.mark.django_db
def test_reconcile_rejects_bad_input(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"a,b,c\n1,2,3\n")
    with pytest.raises(CommandError, match=r"settlement file rejected \(wrong_columns\): wrong columns"):
        _call("--from", "2026-01-10", "--to", "2026-01-11", "--file", str(path))
    with pytest.raises(CommandError, match="not an ISO-8601"):
        _call("--from", "yesterday", "--to", "2026-01-11", "--file", str(path))
    with pytest.raises(CommandError, match="the period must end after it starts"):
        _call("--from", "2026-01-11", "--to", "2026-01-10", "--file", str(path))
    with pytest.raises(CommandError, match="cannot read"):
        _call("--from", "2026-01-10", "--to", "2026-01-11", "--file", str(tmp_path / "missing.csv"))
    with pytest.raises(CommandError, match="Unknown payment provider"):
        _call("--provider", "nope", "--from", "2026-01-10", "--to", "2026-01-11")
    assert SettlementFile.objects.count() == 0


@pytest.mark.django_db
def test_reconcile_one_day_with_date(alice, tmp_path):
    pending = payment_make(alice.merchant, status="pending")
    path = tmp_path / "settlement.csv"
    path.write_bytes(settlement_csv([line_for(pending)]))
    out = _call("--date", "2026-01-10", "--file", str(path))
    run = Run.objects.get()
    assert f"run {run.id}: 1 lines" in out
    assert (run.period_start.isoformat(), run.period_end.isoformat()) == (
        "2026-01-10T00:00:00+00:00",
        "2026-01-11T00:00:00+00:00",
    )
    # The same day spelled with --from/--to is the same period: the same file is a no-op.
    assert "already imported" in _call("--from", "2026-01-10", "--to", "2026-01-11", "--file", str(path))


@pytest.mark.django_db
def test_reconcile_empty_range_says_what_to_type(tmp_path):
    path = tmp_path / "settlement.csv"
    path.write_bytes(settlement_csv([]))
    with pytest.raises(CommandError) as refused:
        _call("--from", "2026-01-10", "--to", "2026-01-10", "--file", str(path))
    message = str(refused.value)
    assert "--to is exclusive" in message
    assert "type --date 2026-01-10 (or --from 2026-01-10 --to 2026-01-11)" in message
    with pytest.raises(CommandError, match="give either --date or --from/--to, not both"):
        _call("--date", "2026-01-10", "--from", "2026-01-10", "--file", str(path))
    with pytest.raises(CommandError, match="--date 2026-01-10 for one UTC day"):
        _call("--from", "2026-01-10", "--file", str(path))
    with pytest.raises(CommandError, match="--date takes a day like 2026-01-10, not '2026-01-10T05:00'"):
        _call("--date", "2026-01-10T05:00", "--file", str(path))
    assert SettlementFile.objects.count() == 0
