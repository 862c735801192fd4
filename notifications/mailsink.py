"""A local SMTP sink (aiosmtpd) that accepts every message and prints it: where `make run`
sends receipts, as the demo webhook receiver prints webhooks. Also used by the tests'
real SMTP server (with a list to collect into and an optional script of failures)."""

from __future__ import annotations

import email
import email.policy
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, TextIO

from aiosmtpd.controller import Controller


@dataclass
class SinkHandler:
    """aiosmtpd handler: parse, collect, print; ``refuse`` may answer an SMTP error instead."""

    out: TextIO | None = None
    received: list[EmailMessage] = field(default_factory=list)
    refuse: Callable[[EmailMessage], str | None] | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        if self.refuse is not None:
            answer = self.refuse(message)
            if answer:
                return answer
        self.received.append(message)
        if self.out is not None:
            self.out.write(describe(message, recipients=envelope.rcpt_tos))
            self.out.flush()
        return "250 Message accepted for delivery"


def describe(message: EmailMessage, *, recipients: list[str]) -> str:
    text = message.get_body(preferencelist=("plain",))
    body = text.get_content() if text is not None else ""
    parts = [part.get_content_type() for part in message.walk() if not part.is_multipart()]
    return (
        f"----- mail to {', '.join(recipients)} -----\n"
        f"From: {message['From']}\nSubject: {message['Subject']}\nMessage-ID: {message['Message-ID']}\n"
        f"Parts: {', '.join(parts)}\n\n{body}\n"
    )


def mail_sink_start(*, host: str, port: int, handler: SinkHandler) -> Controller:
    # server_hostname: skip the FQDN lookup aiosmtpd does by default (slow without DNS)
    controller = Controller(handler, hostname=host, port=port, server_hostname="tender-mail-sink")
    controller.start()
    return controller


def stdout_handler() -> SinkHandler:
    return SinkHandler(out=sys.stdout)
