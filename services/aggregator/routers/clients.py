"""POST /v1/clients, GET /v1/clients (admin)."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from .deps import admin, service

router = APIRouter(tags=["clients"], dependencies=[Depends(admin)])


# padded base64url (the decoder further requires the canonical encoding)
B64URL_PATTERN = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?$"


class EnrolRequest(BaseModel):
    public_key: str = Field(..., max_length=4096, pattern=B64URL_PATTERN,
                            description="base64url ML-DSA-65 public key (1952 bytes)")
    label: str = Field("", max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$",
                       description="free text, no control characters")


class EnrolResponse(BaseModel):
    client_id: str
    fingerprint: str
    created: bool


@router.post("/v1/clients", status_code=201, response_model=EnrolResponse,
             summary="enrol a client's ML-DSA-65 public key; returns its client id")
async def enrol(body: EnrolRequest, request: Request) -> dict[str, Any]:
    return await service(request).enrol(body.public_key, body.label)


@router.get("/v1/clients", summary="enrolled clients")
async def list_clients(request: Request) -> list[dict[str, Any]]:
    return await to_thread.run_sync(service(request).store.list_clients)
