"""ReadGathering on real loopback TCP sockets: what the kernel does with the mark.

A writer sends bytes with pauses between them, as Asterisk sends events; the
reader counts its reads. Windows are long (0.2–5 s) against millisecond gaps,
so the assertions hold on a loaded machine.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator

import pytest

from hotline_pbx.ami.read_gathering import BURST_BYTES, ReadGathering


class Reader(asyncio.Protocol):
    def __init__(self, window: float) -> None:
        self.window = window
        self.reads: list[tuple[float, bytes]] = []
        self.arrived = asyncio.Event()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.gathering: ReadGathering | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.gathering = ReadGathering(transport, self.window)

    def data_received(self, data: bytes) -> None:
        self.reads.append((asyncio.get_running_loop().time(), data))
        self.arrived.set()
        assert self.gathering is not None
        self.gathering.after_read()

    def connection_lost(self, exc: Exception | None) -> None:
        assert self.gathering is not None
        self.gathering.stop()
        self.lost.set_result(None)

    @property
    def received(self) -> bytes:
        return b"".join(data for _, data in self.reads)

    async def until(self, expected: bytes, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while self.received != expected:
                self.arrived.clear()
                await self.arrived.wait()


class Pair:
    def __init__(self, reader: Reader, writer: asyncio.StreamWriter,
                 transport: asyncio.BaseTransport, peer: asyncio.StreamReader) -> None:
        self.reader, self.writer, self.transport = reader, writer, transport
        self.peer = peer  # what the other side reads

    async def send(self, data: bytes) -> float:
        self.writer.write(data)
        await self.writer.drain()
        return asyncio.get_running_loop().time()


async def connected(window: float) -> AsyncIterator[Pair]:
    accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def on_client(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await accepted.put((r, w))

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_connection(lambda: Reader(window), "127.0.0.1", port)
    peer, writer = await accepted.get()
    try:
        yield Pair(protocol, writer, transport, peer)
    finally:
        writer.close()
        transport.close()
        server.close()
        await server.wait_closed()


@pytest.fixture
async def slow() -> AsyncIterator[Pair]:
    async for pair in connected(0.2):
        yield pair


async def test_the_first_read_is_at_once_and_the_rest_of_a_burst_comes_in_one(slow: Pair) -> None:
    sent = await slow.send(b"a")
    await slow.reader.until(b"a")
    assert slow.reader.reads[0][0] - sent < 0.1  # not held back by the window
    assert slow.reader.gathering is not None and slow.reader.gathering.gathering
    first_of_burst = await slow.send(b"b")
    for part in (b"c", b"d"):
        await asyncio.sleep(0.001)
        await slow.send(part)
    await slow.reader.until(b"abcd")
    assert [data for _, data in slow.reader.reads] == [b"a", b"bcd"]
    # b waited for the window that started at a's read, not longer than about it.
    waited = slow.reader.reads[1][0] - first_of_burst
    assert 0 <= waited < 0.2 + 0.5


async def test_a_quiet_stream_is_read_as_it_comes(slow: Pair) -> None:
    await slow.send(b"a")
    await slow.reader.until(b"a")
    await asyncio.sleep(0.5)  # the window passed with nothing to read
    assert slow.reader.gathering is not None and not slow.reader.gathering.gathering
    sent = await slow.send(b"b")
    await slow.reader.until(b"ab")
    assert slow.reader.reads[1][0] - sent < 0.1


async def test_an_event_left_alone_waits_one_window_and_no_more() -> None:
    async for pair in connected(0.3):
        await pair.send(b"a")
        await pair.reader.until(b"a")
        sent = await pair.send(b"b")  # inside a's window, and nothing follows it
        await pair.reader.until(b"ab", timeout=2.0)
        assert pair.reader.reads[1][0] - sent < 0.3 + 0.5


async def test_a_large_burst_wakes_the_reader_before_the_window_ends() -> None:
    async for pair in connected(2.0):
        await pair.send(b"a")
        await pair.reader.until(b"a")
        burst = b"x" * (2 * BURST_BYTES)
        await pair.send(burst)
        async with asyncio.timeout(1.0):  # the mark's worth is read well inside the window
            while len(pair.reader.received) < 1 + BURST_BYTES:
                pair.reader.arrived.clear()
                await pair.reader.arrived.wait()
        await pair.reader.until(b"a" + burst, timeout=2.0 + 2.0)  # what is left: one window


async def test_the_end_of_the_stream_wakes_the_reader_whatever_the_mark() -> None:
    async for pair in connected(5.0):
        await pair.send(b"a")
        await pair.reader.until(b"a")
        await pair.send(b"b")
        pair.writer.close()
        async with asyncio.timeout(2.0):
            await pair.reader.lost
        assert pair.reader.received == b"ab"


async def test_a_zero_window_reads_everything_as_it_comes() -> None:
    async for pair in connected(0.0):
        sent = await pair.send(b"a")
        await pair.reader.until(b"a")
        assert pair.reader.gathering is not None and not pair.reader.gathering.gathering
        await asyncio.sleep(0.05)
        sent = await pair.send(b"b")
        await pair.reader.until(b"ab")
        assert pair.reader.reads[1][0] - sent < 0.1


async def test_a_stopped_gathering_leaves_no_timer(slow: Pair) -> None:
    await slow.send(b"a")
    await slow.reader.until(b"a")
    gathering = slow.reader.gathering
    assert gathering is not None and gathering.gathering
    gathering.stop()
    assert not gathering.gathering
    gathering.after_read()  # a read after the stop starts nothing
    assert not gathering.gathering
    sent = await slow.send(b"b")  # the mark went back to 1 with the timer: read at once
    await slow.reader.until(b"ab")
    assert slow.reader.reads[1][0] - sent < 0.1


async def test_a_stream_that_keeps_coming_is_read_once_a_window() -> None:
    async for pair in connected(0.2):
        sent = b""
        started = asyncio.get_running_loop().time()
        for n in range(100):  # an event every 10 ms for about a second
            part = b"event %d;" % n
            sent += part
            await pair.send(part)
            await asyncio.sleep(0.01)
        await pair.reader.until(sent, timeout=2.0)
        elapsed = asyncio.get_running_loop().time() - started
        # The first read at once, then one a window (the timer's), however long the
        # sends took on a loaded machine; read as they came it would be 100.
        assert len(pair.reader.reads) <= 3 + elapsed / 0.2


async def test_the_peer_sees_the_end_when_the_transport_closes_while_gathering() -> None:
    async for pair in connected(5.0):
        await pair.send(b"a")
        await pair.reader.until(b"a")
        assert pair.reader.gathering is not None and pair.reader.gathering.gathering
        open_before = len(os.listdir("/proc/self/fd"))
        pair.transport.close()
        await asyncio.wait_for(pair.reader.lost, 2.0)
        await asyncio.sleep(0)
        # Our duplicate of the descriptor went with the connection (the
        # transport's and ours: two), and the other side reads its end.
        assert len(os.listdir("/proc/self/fd")) == open_before - 2
        assert await asyncio.wait_for(pair.peer.read(), 2.0) == b""


async def test_every_byte_arrives_once_and_in_order_whatever_the_rhythm() -> None:
    rng = random.Random(16)
    async for pair in connected(0.005):
        sent = bytearray()
        for n in range(300):
            size = rng.choice((1, 40, 300, 1500, BURST_BYTES // 3, BURST_BYTES + 7))
            part = bytes((n + i) % 251 for i in range(size))
            sent += part
            await pair.send(part)
            if rng.random() < 0.3:
                await asyncio.sleep(rng.choice((0.0, 0.001, 0.004, 0.006, 0.02)))
        await pair.reader.until(bytes(sent), timeout=20.0)
