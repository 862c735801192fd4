"""Where a change of a payment is announced, and how an async caller waits for one.

Every committed payment event is pushed by the outbox dispatcher (realtime's durable
consumer) to the channel-layer group :func:`payment_group`; the websocket consumers of the
hosted checkout listen there, and so does the status long-poll, which waits in the event
loop (no thread, no database connection) until a push arrives or its re-check interval
passes. Pushes are best effort: a waiter always re-reads PostgreSQL before it answers.
"""

from __future__ import annotations

import asyncio

from channels.layers import get_channel_layer


def payment_group(payment_id: str) -> str:
    """The channel-layer group that hears about every change of ``payment_id``."""
    return f"payment.{payment_id}"


async def payment_change_wait(*, payment_id: str, timeout: float) -> bool:
    """Wait at most ``timeout`` seconds for a push about ``payment_id``; True if one came."""
    layer = get_channel_layer()
    channel = await layer.new_channel("longpoll.")
    group = payment_group(payment_id)
    await layer.group_add(group, channel)
    try:
        await asyncio.wait_for(layer.receive(channel), timeout)
        return True
    except TimeoutError:
        return False
    finally:
        await layer.group_discard(group, channel)
