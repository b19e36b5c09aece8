"""Connection read timeouts for uvicorn (which has none for request headers or bodies).

:func:`protocol_class` returns a subclass of uvicorn's h11 HTTP protocol (the services
always run on h11, whether or not httptools is installed) with two per-connection timers:

- **headers**: armed when the connection opens and again after each response; the
  request line and headers must be complete within ``header_timeout_s`` or the
  connection is closed (with a plain ``408`` if part of a request had arrived; an idle
  keep-alive connection is simply closed, as uvicorn's keep-alive timeout would).
- **body** (backstop): once the headers are in, the body must be complete within
  ``body_timeout_s`` or the connection is closed; the handler then sees a disconnect.
  Upload handlers enforce the same budget themselves with a clean ``408 body_timeout``
  (:func:`services.common.http.read_body`); this timer, a little longer, covers every other
  route (JSON bodies parsed by FastAPI, the 413 drain) so no request can trickle forever.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["BODY_BACKSTOP_SLACK_S", "TimeoutH11Protocol", "protocol_class"]

# The connection-level body timer fires this long after the handler-level one, so an
# upload handler answers 408 itself before its connection is cut.
BODY_BACKSTOP_SLACK_S = 2.0


def _raw_408(reason: str, detail: str) -> bytes:
    body = json.dumps({"error": reason, "detail": detail}).encode()
    return (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
            b"connection: close\r\nx-zkflpq-reason: " + reason.encode() + b"\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


class TimeoutH11Protocol(H11Protocol):
    header_timeout_s: float | None = 10.0
    body_timeout_s: float | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None

    # -- uvicorn hooks ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._update_timers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._update_timers()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._update_timers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header()
        self._cancel_body()
        super().connection_lost(exc)

    # -- timers ----------------------------------------------------------------------------
    def _update_timers(self) -> None:
        if self.transport is None or self.transport.is_closing():
            self._cancel_header()
            self._cancel_body()
            return
        state = self.conn.their_state
        if state is h11.IDLE:  # waiting for (the rest of) a request line and headers
            self._cancel_body()
            if self._header_timer is None and self.header_timeout_s:
                self._header_timer = self.loop.call_later(self.header_timeout_s,
                                                          self._on_header_timeout)
        elif state is h11.SEND_BODY:
            self._cancel_header()
            if self._body_timer is None and self.body_timeout_s:
                self._body_timer = self.loop.call_later(
                    self.body_timeout_s + BODY_BACKSTOP_SLACK_S, self._on_body_timeout)
        else:  # request complete (or the connection is ending)
            self._cancel_header()
            self._cancel_body()

    def _cancel_header(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _cancel_body(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _on_header_timeout(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        partial, _closed = self.conn.trailing_data
        if partial:
            self.transport.write(_raw_408("header_timeout", "request headers not received "
                                          f"within {self.header_timeout_s:g} s"))
        self.transport.close()

    def _on_body_timeout(self) -> None:
        self._body_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.SEND_BODY:
            return
        self.transport.close()  # the handler's receive() now reports a disconnect


def protocol_class(header_timeout_s: float | None,
                   body_timeout_s: float | None) -> type[TimeoutH11Protocol]:
    """A :class:`TimeoutH11Protocol` subclass with these timeouts (uvicorn ``http=``)."""
    return type("ZkflpqH11Protocol", (TimeoutH11Protocol,),
                {"header_timeout_s": header_timeout_s, "body_timeout_s": body_timeout_s})
