"""POST /v1/rounds/{id}/updates (client): sealed, signed ciphertexts + proof."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from .deps import SEALED_POST, service

router = APIRouter(tags=["updates"])


@router.post(
    "/v1/rounds/{round_id}/updates", status_code=202, openapi_extra=SEALED_POST,
    summary="submit an update; 202 accepted (durably stored), 422 with a reason, 409 "
            "second update, 413 too large, 401/403 unknown caller, 429 queue full",
    responses={409: {"description": "duplicate"}, 413: {"description": "too large"},
               422: {"description": "rejected with a reason"},
               429: {"description": "verification queue full"}})
async def submit_update(request: Request, round_id: int = Path(..., ge=1, le=2**31 - 1)
                        ) -> Response:
    return await service(request).submit(request, round_id)
