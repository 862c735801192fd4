"""Outbound mail: Django's SMTP backend with a wall-clock deadline on each send.

``EMAIL_TIMEOUT`` bounds one SMTP operation; a server that answers one byte at a time (or
takes each command just inside the timeout) could hold a send, and the worker thread, for
ever, and outlive the notification's lease so that another worker sends it again. Here the
whole send (connect, greeting, TLS, AUTH, the message) ends by ``EMAIL_SEND_DEADLINE_SECONDS``
(:mod:`common.deadlines`); the caller sees the failure and retries later.
"""

from __future__ import annotations

import smtplib
import time
from collections.abc import Sequence

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.smtp import EmailBackend

from common.deadlines import socket_deadline, socket_watch


class _WatchedSMTP(smtplib.SMTP):
    def _get_socket(self, host, port, timeout):
        sock = super()._get_socket(host, port, timeout)
        socket_watch(sock)  # right after TCP connect: the greeting and TLS are bounded too
        return sock


class _WatchedSMTPSSL(smtplib.SMTP_SSL, _WatchedSMTP):
    """SMTP_SSL's _get_socket wraps what _WatchedSMTP connected (and registered)."""


class SMTPBackend(EmailBackend):
    """The ``EMAIL_BACKEND``: Django's SMTP backend, each send under one deadline."""

    @property
    def connection_class(self):
        return _WatchedSMTPSSL if self.use_ssl else _WatchedSMTP

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        with socket_deadline(time.monotonic() + settings.EMAIL_SEND_DEADLINE_SECONDS):
            if self.connection is not None:
                socket_watch(self.connection.sock)  # a connection opened before this send
            return super().send_messages(email_messages)
