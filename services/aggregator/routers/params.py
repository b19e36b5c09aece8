"""GET /v1/params (anyone)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from .deps import service

router = APIRouter(tags=["params"])


@router.get("/v1/params", summary="parameter set, BFV public key (signed by the key "
            "authority), KEM and signing public keys, fingerprints")
async def get_params(request: Request) -> dict[str, Any]:
    return service(request).params_document()
