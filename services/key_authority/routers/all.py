"""Key-authority routers."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from zkflpq.protocol import HEADER_SENDER, HEADER_TIMESTAMP, SEALED_MEDIA_TYPE

from ...common.http import require_admin
from ..service import KeyAuthorityService


def service(request: Request) -> KeyAuthorityService:
    return request.app.state.service


def admin(request: Request) -> None:
    require_admin(request, service(request).admin_token)


params = APIRouter(tags=["params"])
clients = APIRouter(tags=["clients"], dependencies=[Depends(admin)])
aggregators = APIRouter(tags=["aggregators"], dependencies=[Depends(admin)])
decryptions = APIRouter(tags=["decryptions"])


# padded base64url (the decoder further requires the canonical encoding)
B64URL_PATTERN = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?$"


class EnrolRequest(BaseModel):
    public_key: str = Field(..., max_length=4096, pattern=B64URL_PATTERN,
                            description="base64url ML-DSA-65 key (1952 bytes)")
    label: str = Field("", max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$",
                       description="free text, no control characters")


class AggregatorEnrolRequest(BaseModel):
    aggregator_id: str = Field(..., min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$",
                               description="visible ASCII (it travels in a header)")
    public_key: str = Field(..., max_length=4096, pattern=B64URL_PATTERN,
                            description="base64url ML-DSA-65 key (1952 bytes)")


@params.get("/v1/params", summary="parameter set, BFV public key + signature, KEM and "
            "signing public keys")
async def get_params(request: Request) -> dict[str, Any]:
    return service(request).params_document()


@clients.post("/v1/clients", status_code=201, summary="enrol a client's ML-DSA-65 key")
async def enrol_client(body: EnrolRequest, request: Request) -> dict[str, Any]:
    return await service(request).enrol_client(body.public_key, body.label)


@aggregators.post("/v1/aggregators", status_code=201,
                  summary="enrol an aggregator's ML-DSA-65 key (who may request decryptions)")
async def enrol_aggregator(body: AggregatorEnrolRequest, request: Request) -> dict[str, Any]:
    return await service(request).enrol_aggregator(body.aggregator_id, body.public_key)


@decryptions.post(
    "/v1/decryptions", summary="decrypt the sum of >= K_min signed ciphertexts (once per round)",
    openapi_extra={
        "parameters": [{"name": HEADER_SENDER, "in": "header", "required": True,
                        "schema": {"type": "string"}},
                       {"name": HEADER_TIMESTAMP, "in": "header", "required": True,
                        "schema": {"type": "integer"}}],
        "requestBody": {"required": True, "content": {SEALED_MEDIA_TYPE: {
            "schema": {"type": "string", "format": "binary"}}}}})
async def decrypt(request: Request) -> Response:
    return await service(request).decrypt_request(request)


@decryptions.get("/v1/decryptions", dependencies=[Depends(admin)],
                 summary="what was decrypted (audit)")
async def list_decryptions(request: Request) -> list[dict[str, Any]]:
    return await to_thread.run_sync(service(request).store.list_decryptions)
