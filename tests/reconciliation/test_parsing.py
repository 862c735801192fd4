"""Bad settlement files are rejected with a clear message and change nothing."""

from __future__ import annotations

import pytest

from reconciliation.models import Discrepancy, Run, SettlementFile, SettlementLine
from reconciliation.parsing import SettlementFileError, settlement_file_check, settlement_rows
from reconciliation.services.runs import reconciliation_run
from tests.reconciliation.helpers import PERIOD_END, PERIOD_START, line_for, payment_make, settlement_csv

HEADER = b"provider_reference,payment_id,order_id,amount,currency,status,settled_at,fee\n"
GOOD = b"sim_1,pay_AAAAAAAAAAAAAAAA,order_AAAAAAAAAAAAAAAA,50000,INR,success,2026-01-10T12:00:00Z,100\n"


def _parse(data: bytes) -> list:
    settlement_file_check(data)
    return list(settlement_rows(data))


def test_good_file_parses_to_typed_rows():
    rows = _parse(HEADER + GOOD + b"sim_2,,,700,USD,failed,,0\n")
    assert rows[0][:7] == (2, "sim_1", "pay_AAAAAAAAAAAAAAAA", "order_AAAAAAAAAAAAAAAA", 50000, "INR", "success")
    assert rows[0][7].isoformat() == "2026-01-10T12:00:00+00:00"
    assert rows[1] == (3, "sim_2", "", "", 700, "USD", "failed", None, 0)


def test_header_only_is_a_quiet_period_and_bom_and_crlf_are_fine():
    assert _parse(HEADER) == []
    assert len(_parse(b"\xef\xbb\xbf" + HEADER.replace(b"\n", b"\r\n") + GOOD.replace(b"\n", b"\r\n"))) == 1


@pytest.mark.parametrize(
    ("data", "reason", "message"),
    [
        (b"", "empty_file", "the settlement file is empty"),
        (b"\n  \n", "empty_file", "the settlement file is empty"),
        (b"ref,payment,amount\n" + GOOD, "wrong_columns", "wrong columns: expected provider_reference,payment_id"),
        (HEADER.replace(b"fee", b"fees") + GOOD, "wrong_columns", "got provider_reference"),
        (HEADER + GOOD.replace(b"50000", b"500.00"), "bad_amount", "line 2: amount '500.00' must be a positive"),
        (HEADER + GOOD.replace(b"50000", b"-5"), "bad_amount", "line 2: amount '-5'"),
        (HEADER + GOOD.replace(b"50000", b"1e5"), "bad_amount", "line 2: amount '1e5'"),
        (HEADER + GOOD.replace(b",100\n", b",1.5\n"), "bad_amount", "line 2: fee '1.5'"),
        (HEADER + GOOD.replace(b"INR", b"inr"), "bad_value", "line 2: currency 'inr' must be an ISO 4217"),
        (HEADER + GOOD.replace(b"success", b"settled"), "bad_value", "line 2: status 'settled' must be success"),
        (HEADER + GOOD.replace(b"2026-01-10T12:00:00Z", b"yesterday"), "bad_value", "settled_at 'yesterday'"),
        (HEADER + GOOD + GOOD[:40], "wrong_field_count", "line 3: expected 8 fields, got 3 (truncated"),
        (HEADER + GOOD + b'sim_3,"pay_x', "malformed_csv", "line 3: malformed CSV"),
        (HEADER + GOOD.replace(b"sim_1", b"sim\xe9"), "bad_encoding", "not UTF-8: invalid byte 0xe9 at offset"),
        ("provider_reference,payment_id\n".encode("utf-16"), "bad_encoding", "not UTF-8"),
    ],
)
def test_bad_files_are_rejected_with_a_clear_message(data, reason, message):
    with pytest.raises(SettlementFileError) as caught:
        _parse(data)
    assert caught.value.reason == reason
    assert message in caught.value.message


@pytest.mark.django_db
def test_a_bad_line_late_in_the_file_changes_nothing(alice):
    pending = payment_make(alice.merchant, status="pending")
    good = [line_for(pending)] * 1 + [line_for(payment_make(alice.merchant, status="failed")) for _ in range(50)]
    data = settlement_csv(good)[:-1] + b"\nsim_9,pay_x,order_x,12.5,INR,success,2026-01-10T12:00:00Z,0\n"
    with pytest.raises(SettlementFileError, match=r"line 53: amount '12.5'"):
        reconciliation_run(provider="simulator", period_start=PERIOD_START, period_end=PERIOD_END, content=data)
    assert SettlementFile.objects.count() == 0
    assert SettlementLine.objects.count() == 0
    assert Run.objects.count() == 0
    assert Discrepancy.objects.count() == 0
    pending.refresh_from_db()
    assert pending.status == "pending"
