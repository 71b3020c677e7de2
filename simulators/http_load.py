"""A lean HTTP/1.1 client for load generation: keep-alive connections, one request at a time
on each, responses read by Content-Length. At thousands of POSTs a second on the same two
cores as the service, aiohttp's client cost the load generator about 230 µs of CPU a POST
(docs/benchmarks.md), as much as the web tier it was measuring; this one builds each
request from bytes and parses only the status line and the body's length."""

from __future__ import annotations

import asyncio
from collections import deque
from urllib.parse import urlsplit


class HttpError(Exception):
    """The server answered with something this client does not read (chunked, no length)
    or closed the connection before answering."""


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._buffer = bytearray()
        self._waiting: asyncio.Future[int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiting is not None and not self._waiting.done():
            self._waiting.set_exception(HttpError(f"connection closed: {exc}"))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._answer()

    def request(self, raw: bytes) -> asyncio.Future[int]:
        assert self.transport is not None and self._waiting is None
        self._waiting = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return self._waiting

    def _answer(self) -> None:
        """Settle the request's future with the status once the whole response is here."""
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0 or self._waiting is None:
            return
        head = bytes(self._buffer[:end]).split(b"\r\n")
        length = None
        for line in head[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        waiting = self._waiting
        if length is None:
            self._waiting = None
            waiting.set_exception(HttpError(f"no Content-Length in {head[0]!r}"))
            return
        if len(self._buffer) < end + 4 + length:
            return
        del self._buffer[: end + 4 + length]
        self._waiting = None
        waiting.set_result(int(head[0].split()[1]))


class LeanClient:
    """POSTs to one server over at most `limit` keep-alive connections."""

    def __init__(self, base: str, headers: dict[str, str], limit: int = 64) -> None:
        url = urlsplit(base)
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 80
        self.limit = limit
        self._head = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
        self._idle: list[_Connection] = []
        self._open = 0
        self._queue: deque[asyncio.Future[_Connection]] = deque()
        self._opening: set[asyncio.Future[None]] = set()

    async def post(self, path: str, body: bytes) -> int:
        """The response's status."""
        connection = await self._take()
        raw = b"".join(
            (
                f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Length: {len(body)}\r\n".encode(),
                self._head,
                b"\r\n",
                body,
            )
        )
        try:
            status = await connection.request(raw)
        except BaseException:
            connection.closed = True
            if connection.transport is not None:
                connection.transport.close()
            raise
        finally:
            self._give_back(connection)
        return status

    async def _take(self) -> _Connection:
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
            self._open -= 1
        if self._open < self.limit:
            self._open += 1
            try:
                _, connection = await asyncio.get_running_loop().create_connection(
                    _Connection, self.host, self.port
                )
            except BaseException:
                self._open -= 1
                raise
            return connection
        waiting: asyncio.Future[_Connection] = asyncio.get_running_loop().create_future()
        self._queue.append(waiting)
        return await waiting

    def _give_back(self, connection: _Connection) -> None:
        if connection.closed:
            self._open -= 1
            if self._queue:  # a caller waits for a connection: open one in its place
                waiting = self._queue.popleft()
                opening = asyncio.ensure_future(self._open_for(waiting))
                self._opening.add(opening)
                opening.add_done_callback(self._opening.discard)
            return
        while self._queue:
            waiting = self._queue.popleft()
            if not waiting.done():
                waiting.set_result(connection)
                return
        self._idle.append(connection)

    async def _open_for(self, waiting: asyncio.Future[_Connection]) -> None:
        try:
            connection = await self._take()
        except Exception as exc:
            if not waiting.done():
                waiting.set_exception(exc)
            return
        if waiting.done():
            self._give_back(connection)
        else:
            waiting.set_result(connection)

    def close(self) -> None:
        for connection in self._idle:
            if connection.transport is not None:
                connection.transport.close()
        self._idle.clear()
