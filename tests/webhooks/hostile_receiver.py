"""A hostile webhook receiver, run as its own process (``python hostile_receiver.py MODE``):
it reads each request in full, then misbehaves as MODE says. It prints ``PORT <n>`` once
listening, then one JSON line per request: ``{"id": webhook-id, "opened": t, "closed": t}``
(``time.time()``), "closed" being when the connection ended (the client hung up, or we did).

Modes: ``slow_status`` (the status line dripped one byte per interval), ``slow_headers``
(slowloris: status line at once, then header bytes one per interval, never ending),
``drip_body`` (headers at once, a 1 MB body one byte per interval), ``endless_chunked``
(chunks as fast as the client reads, never a last chunk), ``big_body`` (100 MB body),
``never_answer`` (accepts, reads, never writes), ``reset`` (half a response, then a TCP
reset), ``late_200`` (200 after 30 s).

No Django and no test imports: the process is a stranger to the gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import struct
import sys
import time

MODES = (
    "slow_status",
    "slow_headers",
    "drip_body",
    "endless_chunked",
    "big_body",
    "never_answer",
    "reset",
    "late_200",
)


async def _drip(writer: asyncio.StreamWriter, data: bytes, interval: float) -> None:
    for byte in data:
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(interval)


def _endless(prefix: bytes) -> bytes:
    return prefix + b"a" * 100_000


async def _misbehave(mode: str, writer: asyncio.StreamWriter, interval: float) -> None:
    if mode == "slow_status":
        await _drip(writer, _endless(b"HTTP/1.1 200 OK\r\nX-Drip: "), interval)
    elif mode == "slow_headers":
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        await _drip(writer, _endless(b"X-Slowloris: "), interval)
    elif mode == "drip_body":
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000000\r\n\r\n")
        await _drip(writer, b"x" * 1_000_000, interval)
    elif mode == "endless_chunked":
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"4000\r\n" + b"c" * 0x4000 + b"\r\n"
        while True:
            writer.write(chunk)
            await writer.drain()
    elif mode == "big_body":
        size = 100 * 1024 * 1024
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
        block = b"b" * 65536
        for _ in range(size // len(block)):
            writer.write(block)
            await writer.drain()
    elif mode == "never_answer":
        await asyncio.Event().wait()
    elif mode == "reset":
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"r" * 100)
        await writer.drain()
        await asyncio.sleep(interval)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
        writer.transport.abort()
    elif mode == "late_200":
        await asyncio.sleep(30)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
    else:
        raise ValueError(mode)


async def _read_request(reader: asyncio.StreamReader) -> str:
    head = await reader.readuntil(b"\r\n\r\n")
    headers = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    await reader.readexactly(int(headers.get("content-length", "0")))
    return headers.get("webhook-id", "")


def _serve(mode: str, interval: float):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            webhook_id = await _read_request(reader)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        opened = time.time()
        behaviour = asyncio.ensure_future(_misbehave(mode, writer, interval))
        hangup = asyncio.ensure_future(reader.read())  # b"" (or an error) once the client is gone
        await asyncio.wait({behaviour, hangup}, return_when=asyncio.FIRST_COMPLETED)
        closed = time.time()
        for task in (behaviour, hangup):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        writer.transport.abort()
        print(json.dumps({"id": webhook_id, "opened": opened, "closed": closed}), flush=True)

    return handle


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between dripped bytes")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = await asyncio.start_server(_serve(args.mode, args.interval), "127.0.0.1", args.port, backlog=512)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    sys.exit(0)
