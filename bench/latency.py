"""A loopback TCP relay that adds a fixed delay to every request: a local server made to
answer like a managed service a region away (bench/backends.py's moto leg).

Each client connection gets its own upstream connection and two pump threads; bytes from
the client wait ``delay`` seconds before they are forwarded (one HTTP request is one burst,
so each request pays about one delay), answers come back at once. Connections are
independent, as they are over a real network: eight clients in parallel wait in parallel.
Loopback only, bounded by its clients; :meth:`Relay.close` stops it and every pump.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

CHUNK = 65536


class Relay:
    """Listens on ``127.0.0.1:<port>`` and relays to ``127.0.0.1:<upstream>``."""

    def __init__(self, upstream: int, delay: float) -> None:
        self.upstream = upstream
        self.delay = delay
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()
        self._accepting.join(timeout=2)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
            server.settimeout(None)
            with self._lock:
                self._sockets += [client, server]
            for source, target, delay in ((client, server, self.delay), (server, client, 0.0)):
                pump = threading.Thread(target=self._pump, args=(source, target, delay))
                pump.daemon = True
                pump.start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket, delay: float) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(CHUNK):
                if delay:
                    time.sleep(delay)
                target.sendall(chunk)
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
