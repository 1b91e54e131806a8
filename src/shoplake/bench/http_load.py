"""A small HTTP/1.1 load generator for loopback benchmarks (keep-alive, no client library).

Client libraries spend more CPU per request than a lean server does, and on a 2-core machine the
load generator shares the cores with the server under test; this one writes raw GET requests on
persistent connections and reads each response by its ``Content-Length``, so nearly all the CPU
is left to the server.

Two modes:

* **closed loop** (:func:`closed_loop`): ``connections`` clients, each sending its next request
  as soon as the previous answer arrives — the maximum requests/s the server sustains;
* **open loop** (:func:`open_loop`): requests start on a fixed schedule (``rate`` per second)
  whatever the server does, spread over ``connections`` connections; latency is measured from
  the *scheduled* start, so a stalled server is charged for the requests queued behind it
  (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    """Latencies (ms) of the requests that finished inside the window, and their statuses."""

    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> _Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def get(self, request: bytes) -> int:
        """Send one prepared request; return the status after reading the whole response."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
                break
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


@dataclass(frozen=True)
class Target:
    """Where requests go: ``paths(i)`` is the path of the i-th request."""

    host: str
    port: int
    paths: Callable[[int], str]
    headers: dict[str, str] = field(default_factory=dict)

    def request(self, index: int) -> bytes:
        lines = [f"GET {self.paths(index)} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()


def closed_loop(target: Target, *, connections: int, seconds: float) -> LoadResult:
    """Each connection sends its next request when the last one is answered."""
    return asyncio.run(_closed(target, connections, seconds))


async def _closed(target: Target, connections: int, seconds: float) -> LoadResult:
    pool = [await _Connection.open(target.host, target.port) for _ in range(connections)]
    result = LoadResult(seconds)
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**12))

    async def client(connection: _Connection) -> None:
        while time.perf_counter() < deadline:
            request = target.request(next(counter))
            started = time.perf_counter()
            try:
                status = await connection.get(request)
            except (OSError, asyncio.IncompleteReadError):
                result.errors += 1
                return
            if time.perf_counter() <= deadline:
                result.latencies_ms.append((time.perf_counter() - started) * 1000)
                result.statuses[status] = result.statuses.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in pool))
    result.seconds = min(seconds, time.perf_counter() - started)
    for connection in pool:
        connection.close()
    return result


def open_loop(target: Target, *, rate: float, seconds: float, connections: int = 50) -> LoadResult:
    """Start ``rate`` requests per second on schedule; latency from each scheduled start."""
    return asyncio.run(_open(target, rate, seconds, connections))


async def _open(target: Target, rate: float, seconds: float, connections: int) -> LoadResult:
    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await _Connection.open(target.host, target.port))
    result = LoadResult(seconds)
    total = int(rate * seconds)
    begin = time.perf_counter() + 0.05
    tasks = []

    async def one(index: int, scheduled: float) -> None:
        connection = await idle.get()  # waiting for a free connection counts as latency
        try:
            status = await connection.get(target.request(index))
        except (OSError, asyncio.IncompleteReadError):
            result.errors += 1
            return
        idle.put_nowait(connection)
        result.latencies_ms.append((time.perf_counter() - scheduled) * 1000)
        result.statuses[status] = result.statuses.get(status, 0) + 1

    for index in range(total):
        scheduled = begin + index / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index, scheduled)))
    await asyncio.gather(*tasks)
    while not idle.empty():
        idle.get_nowait().close()
    return result
