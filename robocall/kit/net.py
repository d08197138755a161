"""Listening sockets for servers robocall starts itself (the simulator, tests, benchmarks)."""

from __future__ import annotations

import socket


def listening_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A TCP socket bound to host:port (0: any free port), ready to hand to uvicorn.

    proto=IPPROTO_TCP: asyncio turns Nagle's algorithm off only on sockets that say they are
    TCP; with it on, each answer on a kept-alive connection waits ~40 ms for an ACK.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock
