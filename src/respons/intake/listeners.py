"""TCP and UDP on one port, for the device receivers (DC-09, SCAIP).

A receiver subclasses ``Listener`` and says what to do with a TCP connection (its own
framing: LF…CR frames, SIP messages by Content-Length; as a coroutine on a stream pair, or as
a protocol of its own) and what to answer a datagram. Each
datagram is answered in a task of its own, kept referenced until it is done (the event
loop holds tasks only weakly, and an unreferenced task can vanish mid-commit).
"""

from __future__ import annotations

import asyncio
from typing import Callable


class Listener:
    def __init__(self) -> None:
        self._servers: list = []
        self.tcp_port: int | None = None
        self.udp_port: int | None = None

    async def start(self, host: str, tcp_port: int, udp_port: int | None = None) -> None:
        server = await asyncio.get_running_loop().create_server(self._tcp_protocol, host, tcp_port)
        self._servers.append(server)
        self.tcp_port = server.sockets[0].getsockname()[1]
        if udp_port is not None:
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(lambda: _Datagrams(self), local_addr=(host, udp_port))
            self._servers.append(transport)
            self.udp_port = transport.get_extra_info("sockname")[1]

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
            if hasattr(server, "wait_closed"):
                await server.wait_closed()
        self._servers.clear()

    def _tcp_protocol(self) -> asyncio.Protocol:
        """The protocol for one TCP connection: by default a stream pair handed to
        ``_tcp_client`` (what ``asyncio.start_server`` does); a receiver whose every message
        counts may answer in a protocol of its own instead (DC-09)."""
        return asyncio.StreamReaderProtocol(asyncio.StreamReader(), self._tcp_client)

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def _datagram(self, data: bytes, remote: str, send: Callable[[bytes], None]) -> list[bytes]:
        """The answers to send back to the datagram's source (none: stay silent). ``send``
        reaches the same source later (a SIP transaction answered in several steps)."""
        raise NotImplementedError


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, listener: Listener):
        self.listener = listener
        self.transport = None
        self._tasks: set[asyncio.Task] = set()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        def send(answer: bytes) -> None:
            self.transport.sendto(answer, addr)

        async def reply() -> None:
            for answer in await self.listener._datagram(data, addr[0], send):
                # To the source address (RFC 3581 rport for SIP): devices sit behind NAT.
                self.transport.sendto(answer, addr)

        task = asyncio.get_running_loop().create_task(reply())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
