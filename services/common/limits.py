"""Admission of uploads before their body is read (both services).

An upload handler first checks the sender headers (``401``), that the sender is enrolled
(``403 not_enrolled``) and takes one of the sender's upload slots (``429
too_many_uploads``, ``Retry-After``); only then does it read the body (bounded by the size
limit and the body timeout). The refusals are answered without reading the body, with
``Connection: close``, so an unknown sender costs no memory and N parallel uploads from
one sender cost at most ``max_uploads_per_sender`` bodies.

Declared lengths over the limit were already refused by the body-limit middleware
(``411``/``413``) before the handler runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from .auth import sender_headers
from .http import ApiError

__all__ = ["UploadSlots", "admit_upload"]

CLOSE = {"Connection": "close"}


class UploadSlots:
    """Concurrent uploads per sender (event-loop thread only, so no lock)."""

    def __init__(self, per_sender: int) -> None:
        self.per_sender = per_sender
        self.active: dict[str, int] = {}

    def acquire(self, sender: str) -> bool:
        n = self.active.get(sender, 0)
        if n >= self.per_sender:
            return False
        self.active[sender] = n + 1
        return True

    def release(self, sender: str) -> None:
        n = self.active.get(sender, 0) - 1
        if n > 0:
            self.active[sender] = n
        else:
            self.active.pop(sender, None)


async def admit_upload(request: Request, slots: UploadSlots,
                       enrolled: Callable[[str], Awaitable[bool]],
                       unknown_detail: str) -> str:
    """Admit an upload before its body is read; returns the sender, who holds one slot
    (the caller releases it in ``finally``)."""
    try:
        sender, _ts = sender_headers(request)
    except ApiError as exc:
        exc.headers = {**exc.headers, **CLOSE}
        raise
    if not await enrolled(sender):
        raise ApiError(403, "not_enrolled", unknown_detail, headers=dict(CLOSE))
    if not slots.acquire(sender):
        raise ApiError(429, "too_many_uploads",
                       f"at most {slots.per_sender} concurrent uploads per sender; retry later",
                       headers={"Retry-After": "1", **CLOSE})
    return sender
