"""SMS backends: one small interface, two implementations, chosen by ``SMS_BACKEND``.

* ``http`` — :class:`HttpGatewaySmsBackend`: a signed JSON POST to ``SMS_GATEWAY_URL``
  (``{"to", "body", "message_id"}``), which is what most SMS providers' HTTP APIs (or a small
  adapter in front of one) take. Signed like our webhooks, with the Standard Webhooks headers
  (``webhook-id`` = the notification id, stable across retries, so the gateway can drop a
  repeat) under ``SMS_GATEWAY_SECRET``; sent through the one outbound door
  (webhooks/transport.py: SSRF guard, timeouts, no redirects).
* ``console`` — :class:`ConsoleSmsBackend`: writes the message to stdout (local use, demo).
* empty — SMS is off; no SMS notifications are created.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings

from webhooks import transport
from webhooks.signing import signature_headers


class SmsError(Exception):
    """The SMS could not be handed over; the notification is retried."""


@dataclass(frozen=True)
class SmsMessage:
    to: str  # E.164
    body: str
    message_id: str  # the notification id: stable across retries


class SmsBackend(Protocol):
    def send(self, message: SmsMessage) -> None:
        """Hand the message over or raise :class:`SmsError`."""


class ConsoleSmsBackend:
    def send(self, message: SmsMessage) -> None:
        sys.stdout.write(f"[sms] to={message.to} id={message.message_id}\n{message.body}\n\n")
        sys.stdout.flush()


class HttpGatewaySmsBackend:
    def __init__(self, *, url: str, secret: str) -> None:
        self.url = url
        self.secret = secret

    def send(self, message: SmsMessage) -> None:
        body = json.dumps(
            {"to": message.to, "body": message.body, "message_id": message.message_id},
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
        headers = signature_headers(
            webhook_id=message.message_id, timestamp=int(time.time()), body=body, secrets_active=[self.secret]
        )
        result = transport.post(url=self.url, body=body, headers=headers)
        if not result.ok:
            raise SmsError(f"SMS gateway: {result.error_class} {result.error}".strip()[:500])


def sms_configured() -> bool:
    return settings.SMS_BACKEND in ("console", "http")


def sms_backend() -> SmsBackend:
    if settings.SMS_BACKEND == "console":
        return ConsoleSmsBackend()
    if settings.SMS_BACKEND == "http":
        return HttpGatewaySmsBackend(url=settings.SMS_GATEWAY_URL, secret=settings.SMS_GATEWAY_SECRET)
    raise SmsError("no SMS backend is configured (SMS_BACKEND)")
