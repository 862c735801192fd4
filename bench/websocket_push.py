"""Websocket push latency: event committed → websocket client received, 200 clients.

A real daphne (config.asgi) serves 200 checkout sockets (``ws/payments/{id}``), held by a
separate client process (the ``websockets`` package) so the committing process has the
CPU to itself. This process commits one ``pending → success`` transition per payment,
paced, through the core's ``payment_transition``; the realtime outbox consumer pushes it.
Latency = client receive time minus the moment the transaction committed (an ``on_commit``
hook registered before the transition's own, so it fires first). Same machine, same clock.

Ceiling, in the same run and against the same 200 sockets: a raw channels-redis
``group_send`` from one long-lived event loop straight to each payment's group.
Target (issue 5): p99 ≤ 100 ms.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

CLIENTS = int(os.environ.get("BENCH_WS_CLIENTS", "200"))
PACE_S = float(os.environ.get("BENCH_WS_PACE_MS", "5")) / 1000
TARGET_P99_MS = 100.0
ROOT = Path(__file__).resolve().parent.parent


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


# ---------------------------------------------------------------- client process
def _client_main(url: str, payment_ids: list[str], conn) -> None:
    import websockets

    received: dict[str, dict[str, float]] = {pid: {} for pid in payment_ids}

    async def hold(pid: str, ready: asyncio.Event, counter: list[int], stop: asyncio.Event) -> None:
        async with websockets.connect(
            f"{url}/ws/payments/{pid}", origin=url.replace("ws://", "http://"), max_queue=None
        ) as ws:
            await ws.recv()  # the snapshot
            counter[0] += 1
            if counter[0] == len(payment_ids):
                ready.set()
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
                except TimeoutError:
                    continue
                now = time.time()
                message = json.loads(raw)
                received[pid].setdefault(message["event"], now)

    async def main() -> None:
        ready, stop, counter = asyncio.Event(), asyncio.Event(), [0]
        tasks = [asyncio.create_task(hold(pid, ready, counter, stop)) for pid in payment_ids]
        await asyncio.wait_for(ready.wait(), timeout=60)
        conn.send("ready")
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, conn.recv)  # "stop"
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        conn.send(received)

    asyncio.run(main())


# ---------------------------------------------------------------- committing process
def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEMO_MODE", "true")
    import django

    django.setup()


def _payments(count: int) -> list[str]:
    from django.db import transaction

    from payments.models import Merchant, Order, Payment

    merchant, _ = Merchant.objects.get_or_create(email="bench-realtime@example.com", defaults={"name": "Bench"})
    with transaction.atomic():
        orders = Order.objects.bulk_create(Order(merchant=merchant, amount=10000) for _ in range(count))
        payments = Payment.objects.bulk_create(
            Payment(merchant=merchant, order=o, amount=10000, currency="INR", method="upi", vpa="bench@upi")
            for o in orders
        )
    return [p.id for p in payments]


def _commit_phase(payment_ids: list[str]) -> dict[str, float]:
    from django.db import transaction

    from payments.services.transitions import payment_transition

    committed: dict[str, float] = {}
    for pid in payment_ids:
        with transaction.atomic():
            transaction.on_commit(lambda pid=pid: committed.__setitem__(pid, time.time()))
            payment_transition(payment_id=pid, to_status="success", source="bench")
        time.sleep(PACE_S)
    return committed


def _raw_phase(payment_ids: list[str]) -> dict[str, float]:
    from channels.layers import channel_layers

    from realtime.push import payment_group

    sent: dict[str, float] = {}

    async def main() -> None:
        layer = channel_layers.make_backend("default")
        for i, pid in enumerate(payment_ids):
            version = 1000 + i
            snapshot = {"id": pid, "order_id": "", "status": "success", "version": version}
            message = {"type": "payment.update", "event": "bench.raw", "version": version, "full": snapshot}
            sent[pid] = time.time()
            await layer.group_send(payment_group(pid), message)
            await asyncio.sleep(PACE_S)

    asyncio.run(main())
    return sent


def run() -> list[dict]:
    _setup_django()
    from realtime.push import pusher
    from tests.support.processes import free_port, wait_for

    port = free_port()
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings", DEMO_MODE="true", LOG_LEVEL="WARNING")
    daphne = subprocess.Popen(
        [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    client = None
    try:
        import socket

        def listening() -> bool:
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", port)) == 0

        wait_for(listening, timeout=30, message="daphne")
        payment_ids = _payments(CLIENTS)
        client = ctx.Process(target=_client_main, args=(f"ws://127.0.0.1:{port}", payment_ids, child))
        client.start()
        if not parent.poll(90):
            raise RuntimeError("websocket clients did not connect")
        assert parent.recv() == "ready"
        committed = _commit_phase(payment_ids)
        pusher.flush(10)
        raw_sent = _raw_phase(payment_ids)
        deadline = time.time() + 3
        while time.time() < deadline:  # let the last messages land before stopping clients
            time.sleep(0.1)
        parent.send("stop")
        received = parent.recv()
    finally:
        if client is not None:
            client.join(10)
            if client.is_alive():
                client.kill()
        daphne.terminate()
        try:
            daphne.wait(10)
        except subprocess.TimeoutExpired:
            daphne.kill()
    push_ms = [
        (received[pid]["payment.success"] - committed[pid]) * 1000
        for pid in payment_ids
        if "payment.success" in received[pid] and pid in committed
    ]
    raw_ms = [
        (received[pid]["bench.raw"] - raw_sent[pid]) * 1000 for pid in payment_ids if "bench.raw" in received[pid]
    ]
    p99 = _pct(push_ms, 0.99)
    return [
        {
            "benchmark": "websocket_push",
            "metric": f"commit→client p50 ({CLIENTS} clients)",
            "value": statistics.median(push_ms) if push_ms else float("nan"),
            "unit": "ms",
            "ceiling": statistics.median(raw_ms) if raw_ms else None,
            "target": None,
            "ok": None,
        },
        {
            "benchmark": "websocket_push",
            "metric": f"commit→client p99 ({CLIENTS} clients)",
            "value": p99,
            "unit": "ms",
            "ceiling": _pct(raw_ms, 0.99),
            "target": f"≤ {TARGET_P99_MS:.0f}",
            "ok": p99 <= TARGET_P99_MS,
        },
        {
            "benchmark": "websocket_push",
            "metric": "pushes delivered",
            "value": len(push_ms),
            "unit": f"of {CLIENTS}",
            "ceiling": len(raw_ms),
            "target": CLIENTS,
            "ok": len(push_ms) == CLIENTS,
        },
    ]
