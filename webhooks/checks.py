"""System checks for webhook settings that would break delivery guarantees."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register

from webhooks.services.claims import LEASE_MARGIN_SECONDS


@register()
def webhook_settings_check(app_configs, **kwargs) -> list[Error]:
    errors: list[Error] = []
    # A claim's last attempt starts within the send window and is over by its deadline.
    claim_max = settings.WEBHOOK_CLAIM_SEND_SECONDS + settings.WEBHOOK_TOTAL_TIMEOUT + LEASE_MARGIN_SECONDS
    if claim_max >= settings.WEBHOOK_DELIVERY_LEASE_SECONDS:
        errors.append(
            Error(
                "WEBHOOK_DELIVERY_LEASE_SECONDS must exceed the claim send window + the attempt deadline + "
                f"{LEASE_MARGIN_SECONDS:g} s ({claim_max:g} s), or attempts would be cut short at the lease end.",
                id="webhooks.E001",
            )
        )
    if not 0 < settings.WEBHOOK_CONNECT_TIMEOUT <= settings.WEBHOOK_TOTAL_TIMEOUT:
        errors.append(
            Error("WEBHOOK_CONNECT_TIMEOUT must be > 0 and at most WEBHOOK_TOTAL_TIMEOUT", id="webhooks.E004")
        )
    errors += _lanes_check()
    if settings.WEBHOOK_ENDPOINT_MAX_IN_FLIGHT < 1 or settings.WEBHOOK_ENDPOINT_PARALLEL_REQUESTS < 1:
        errors.append(Error("WEBHOOK_ENDPOINT_MAX_IN_FLIGHT and _PARALLEL_REQUESTS must be >= 1", id="webhooks.E002"))
    if any(d < 0 for d in settings.WEBHOOK_RETRY_DELAYS):
        errors.append(Error("WEBHOOK_RETRY_DELAYS must be non-negative seconds", id="webhooks.E003"))
    errors += _destination_lease_check()
    return errors


# Time to record a batch's confirm (cursor advance) after the broker answered.
DESTINATION_LEASE_MARGIN_SECONDS = 2


def destination_batch_max_seconds() -> float:
    """The longest an event-destination publisher can hold its lease: its last batch starts
    at the end of the drain, the kept connection's publish times out, and the one retry opens
    a fresh connection (connect + first publish) and publishes again."""
    publish = settings.EVENT_DESTINATION_PUBLISH_TIMEOUT
    return (
        settings.EVENT_DESTINATION_DRAIN_SECONDS
        + publish
        + (settings.EVENT_DESTINATION_CONNECT_TIMEOUT + publish)
        + publish
        + DESTINATION_LEASE_MARGIN_SECONDS
    )


def _destination_lease_check() -> list[Error]:
    # A lease that ran out mid-batch lets a second publisher send the same events again, and
    # interleaved with the first, out of order (the cursor stays right: it is lease-fenced).
    worst = destination_batch_max_seconds()
    if worst >= settings.EVENT_DESTINATION_LEASE_SECONDS:
        return [
            Error(
                "EVENT_DESTINATION_LEASE_SECONDS must exceed drain + publish + (connect + publish) + publish + "
                f"{DESTINATION_LEASE_MARGIN_SECONDS} s ({worst:g} s), or a slow broker's batch outlives its lease.",
                id="webhooks.E007",
            )
        ]
    return []


def _lanes_check() -> list[Error]:
    """The cap arithmetic (docs/webhooks.md, "What one endpoint can hold"): the slow lane
    takes at most WEBHOOK_SLOW_LANE_THREADS of the worker's WEBHOOK_WORKER_THREADS, and the
    fast lane keeps more threads than one endpoint may hold (its claim cap), so no single
    endpoint, slow or turning slow, can take every thread other endpoints need."""
    threads, slow = settings.WEBHOOK_WORKER_THREADS, settings.WEBHOOK_SLOW_LANE_THREADS
    cap = settings.WEBHOOK_ENDPOINT_MAX_IN_FLIGHT
    errors: list[Error] = []
    if not 1 <= slow < threads or threads - slow <= cap:
        errors.append(
            Error(
                f"WEBHOOK_SLOW_LANE_THREADS ({slow}) must be at least 1 and leave the fast lane more than "
                f"WEBHOOK_ENDPOINT_MAX_IN_FLIGHT ({cap}) of WEBHOOK_WORKER_THREADS ({threads}) threads, or slow "
                "endpoints could hold every thread a healthy endpoint's delivery needs.",
                hint="WEBHOOK_WORKER_THREADS is read from WEBHOOKS_THREADS, the webhooks worker's thread count.",
                id="webhooks.E005",
            )
        )
    if not 0 < settings.WEBHOOK_SLOW_ATTEMPT_SECONDS < settings.WEBHOOK_TOTAL_TIMEOUT:
        errors.append(
            Error(
                "WEBHOOK_SLOW_ATTEMPT_SECONDS must be > 0 and below WEBHOOK_TOTAL_TIMEOUT, or endpoints that hold "
                "a thread for a whole deadline would stay in the fast lane.",
                id="webhooks.E006",
            )
        )
    return errors
