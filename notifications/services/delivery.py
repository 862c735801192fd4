"""Sending one notification: claim → send (no transaction open) → record.

* Claim: one autocommit ``UPDATE … RETURNING`` takes a pending, due row whose lease is free
  or expired (``NOTIFICATION_LEASE_SECONDS``) and counts the attempt. A duplicate task, a
  row another worker holds, or one already sent claims nothing: that is what keeps a twice
  published task (or a twice dispatched event) to one message.
* Send: email through Django's mail framework (``EmailMultiAlternatives``, plain + HTML,
  ``Message-ID`` derived from the notification id so a mail client folds a rare resend),
  SMS through the configured backend. No transaction and no row lock are held meanwhile.
* Record: ``sent``; or, on failure, the next attempt after ``NOTIFICATION_RETRY_DELAYS[n]``
  (± jitter) and a retry task with that countdown (the Beat sweeper is the backstop), or
  ``failed`` once the attempts are used up.

At least once: a worker that dies after the server accepted the message and before the
record step leaves a lease that expires, and the message is sent again.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils import timezone

from common.tasks import task_send
from notifications.models import Notification
from notifications.rendering import receipt_render
from notifications.sms import SmsMessage, sms_backend

logger = logging.getLogger("tender.notifications")

# The send task (notifications.tasks), published by name: the task runs notification_send.
SEND_TASK = "notifications.tasks.notification_send_task"

_CLAIM_SQL = """
UPDATE notifications
   SET claimed_at = %(now)s, attempts = attempts + 1, updated_at = %(now)s
 WHERE id = %(id)s AND status = 'pending' AND next_attempt_at <= %(now)s
   AND (claimed_at IS NULL OR claimed_at <= %(expired)s)
RETURNING *
"""


def notification_claim(*, notification_id: str) -> Notification | None:
    now = timezone.now()
    expired = now - timedelta(seconds=settings.NOTIFICATION_LEASE_SECONDS)
    rows = Notification.objects.raw(_CLAIM_SQL, {"id": notification_id, "now": now, "expired": expired})
    return next(iter(rows), None)


def _send_email(notification: Notification) -> None:
    rendered = receipt_render(notification=notification)
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.to],
        headers={"Message-ID": f"<{notification.id}@{settings.NOTIFICATION_MESSAGE_ID_DOMAIN}>"},
        connection=get_connection(timeout=settings.EMAIL_TIMEOUT),
    )
    message.attach_alternative(rendered.html, "text/html")
    message.send(fail_silently=False)


def _send_sms(notification: Notification) -> None:
    rendered = receipt_render(notification=notification)
    sms_backend().send(SmsMessage(to=notification.to, body=rendered.sms, message_id=notification.id))


def notification_send(*, notification_id: str) -> Notification | None:
    """Worker step: deliver one notification if it is due and free (see the module
    docstring); ``None`` when nothing was claimed. Call it outside any transaction."""
    notification = notification_claim(notification_id=notification_id)
    if notification is None:
        return None
    try:
        if notification.channel == Notification.Channel.EMAIL:
            _send_email(notification)
        else:
            _send_sms(notification)
    except Exception as exc:  # noqa: BLE001 - every failure of a send is retried or recorded
        return _failure_record(notification=notification, error=f"{type(exc).__name__}: {exc}")
    now = timezone.now()
    Notification.objects.filter(pk=notification.pk, claimed_at=notification.claimed_at).update(
        status=Notification.Status.SENT, sent_at=now, claimed_at=None, last_error="", updated_at=now
    )
    notification.status, notification.sent_at, notification.claimed_at = Notification.Status.SENT, now, None
    return notification


def retry_delay(attempts: int) -> float | None:
    """Seconds before attempt ``attempts + 1``, or None when the attempts are used up."""
    delays = settings.NOTIFICATION_RETRY_DELAYS
    if attempts > len(delays):
        return None
    base = delays[attempts - 1]
    jitter = settings.NOTIFICATION_RETRY_JITTER
    return base * (1 + random.uniform(-jitter, jitter)) if jitter else float(base)


def _failure_record(*, notification: Notification, error: str) -> Notification:
    now = timezone.now()
    delay = retry_delay(notification.attempts)
    logger.warning(
        "notification send failed",
        extra={"notification_id": notification.id, "attempts": notification.attempts, "final": delay is None},
    )
    changes: dict = {"claimed_at": None, "last_error": error[:512], "updated_at": now}
    if delay is None:
        changes["status"] = Notification.Status.FAILED
    else:
        changes["next_attempt_at"] = now + timedelta(seconds=delay)
    Notification.objects.filter(pk=notification.pk, claimed_at=notification.claimed_at).update(**changes)
    for key, value in changes.items():
        setattr(notification, key, value)
    if delay is not None and delay <= settings.NOTIFICATION_RETRY_ETA_MAX_SECONDS:
        try:
            task_send(SEND_TASK, notification.id, countdown=delay, retry=False)
        except Exception:  # noqa: BLE001 - the sweeper sends it when due
            logger.warning("could not queue a notification retry; the sweeper will")
    return notification


def notifications_due_sweep(*, limit: int = 500) -> int:
    """Beat: queue a send for every pending notification that is due and not under a live
    lease (lost tasks, retries too far out for a countdown, dead workers)."""
    now = timezone.now()
    expired = now - timedelta(seconds=settings.NOTIFICATION_LEASE_SECONDS)
    due = list(
        Notification.objects.filter(status=Notification.Status.PENDING, next_attempt_at__lte=now)
        .exclude(claimed_at__gt=expired)
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )
    for notification_id in due:
        try:
            task_send(SEND_TASK, notification_id, retry=False)
        except Exception:  # noqa: BLE001 - broker down: next sweep
            logger.warning("could not queue due notifications")
            break
    return len(due)
