"""Running the service with uvicorn, with a guard uvicorn lacks: a header-read timeout.

uvicorn closes idle keep-alive connections but waits for a request's headers as long as
the client keeps sending bytes slowly ("slow loris"): a few hundred such connections
exhaust the server. :class:`HeaderTimeoutProtocol` gives every request
``header_timeout`` seconds from its first byte (or the end of the previous response)
to complete its headers, then answers ``408 Request Timeout`` and closes the connection.

References
----------
R. Hansen, "Slowloris HTTP DoS" (2009); Apache ``mod_reqtimeout`` ``RequestReadTimeout
header=...`` is the same guard.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HeaderTimeoutProtocol", "protocol_with_timeout", "run"]

_TIMEOUT_RESPONSE = (b"HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                     b"Content-Length: 44\r\n\r\nthe request headers did not arrive in time\r\n")


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for the request headers."""

    header_timeout: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_task: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._header_task = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        task = getattr(self, "_header_task", None)
        if task is not None:
            task.cancel()
            self._header_task = None

    def _headers_too_slow(self) -> None:
        self._header_task = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return  # headers complete: the request is being served
        self.transport.write(_TIMEOUT_RESPONSE)
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request on this connection gets the same deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def protocol_with_timeout(seconds: float) -> type[HeaderTimeoutProtocol]:
    """A :class:`HeaderTimeoutProtocol` class with ``header_timeout = seconds``."""
    if not seconds > 0:
        raise ValueError(f"header timeout must be positive, got {seconds}")
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout": float(seconds)})


def config(app: Any, *, host: str, port: int, header_timeout: float, log_level: str = "info") -> uvicorn.Config:
    """The uvicorn configuration ``humsec serve`` runs: h11 with the header deadline,
    no access log, 5 s keep-alive."""
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False,
                          http=protocol_with_timeout(header_timeout), timeout_keep_alive=5)


def run(app: Any, *, host: str, port: int, header_timeout: float, log_level: str = "info") -> None:
    """Serve ``app`` until interrupted (see :func:`config`)."""
    uvicorn.Server(config(app, host=host, port=port, header_timeout=header_timeout, log_level=log_level)).run()
