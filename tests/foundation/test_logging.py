"""Structured logs: one JSON line per request carrying the correlation id."""

import json
import logging

import pytest

from common.correlation import CorrelationIdLogFilter, correlation_scope
from common.logging import JsonFormatter


@pytest.mark.django_db
def test_one_log_record_per_request_with_correlation_id(alice, caplog):
    caplog.set_level(logging.INFO, logger="tender.request")
    alice.client.get("/api/v1/orders", HTTP_X_CORRELATION_ID="corr-42")
    records = [r for r in caplog.records if r.name == "tender.request"]
    assert len(records) == 1
    record = records[0]
    assert record.path == "/api/v1/orders"
    assert record.status == 200
    assert record.merchant_id == str(alice.merchant.id)
    line = JsonFormatter().format(_filtered(record, "corr-42"))
    assert "\n" not in line
    payload = json.loads(line)
    assert payload["correlation_id"] == "corr-42"
    assert payload["status"] == 200
    assert payload["method"] == "GET"


def test_exceptions_stay_on_one_line():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert "ValueError: boom" in json.loads(line)["exc"]


def _filtered(record: logging.LogRecord, correlation_id: str) -> logging.LogRecord:
    with correlation_scope(correlation_id):
        CorrelationIdLogFilter().filter(record)
    return record
