"""Celery tasks of notifications (queue ``notifications``): they carry an id only."""

from __future__ import annotations

from celery import shared_task

from notifications.services.delivery import notification_send, notifications_due_sweep


@shared_task(name="notifications.tasks.notification_send_task", ignore_result=True)
def notification_send_task(notification_id: str) -> None:
    notification_send(notification_id=notification_id)


@shared_task(name="notifications.tasks.notifications_sweep", ignore_result=True)
def notifications_sweep() -> int:
    return notifications_due_sweep()
