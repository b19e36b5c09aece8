"""Rounds: open (admin), current config, status, model (sealed), close (admin)."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from zkflpq.protocol import HEADER_SENDER

from ...common.http import ApiError, require_admin, sealed_response
from .deps import SEALED_GET, admin, service

router = APIRouter(tags=["rounds"])

RoundId = Path(..., ge=1, le=2**31 - 1)


MAX_D = 100_000_000
MAX_DEADLINE_S = 366 * 86400  # a round open for more than a year is a typo


class ModelIn(BaseModel):
    d: int = Field(..., ge=1, le=MAX_D, description="parameter count")
    layout: str = Field("", max_length=1_000_000, description="layout JSON (opaque)")
    vector: str = Field(..., max_length=4 * -(-4 * MAX_D // 3),
                        description="base64url float32 little-endian, d values")


class OpenRoundRequest(BaseModel):
    """Every number is finite (JSON ``Infinity``/``NaN`` → 422) and in a sane range; the
    parameter set further requires 1 <= B = floor(τ·scale) < t/2 (422 invalid_params)."""

    tau: float = Field(..., gt=0, le=1e9, allow_inf_nan=False,
                       description="L2 clipping norm τ")
    scale: float = Field(65536.0, gt=0, le=2.0**53, allow_inf_nan=False,
                         description="fixed-point scale; B = floor(τ·scale)")
    k_min: int = Field(2, ge=1, le=1_000_000)
    deadline_s: float | None = Field(None, gt=0, le=MAX_DEADLINE_S, allow_inf_nan=False,
                                     description="seconds from now until submissions close")
    model: ModelIn | None = Field(None, description="initial model (default: the last "
                                  "published one)")


@router.post("/v1/rounds", status_code=201, dependencies=[Depends(admin)],
             summary="open a round")
async def open_round(body: OpenRoundRequest, request: Request) -> dict[str, Any]:
    info = await service(request).open_round(body)
    return info.public()


async def _client_or_admin(request: Request) -> str | None:
    """None for an admin (bearer token), else the authenticated client's id."""
    svc = service(request)
    if request.headers.get("authorization"):
        require_admin(request, svc.admin_token)
        return None
    if HEADER_SENDER not in request.headers:
        raise ApiError(401, "unauthenticated", "an admin bearer token (Authorization) or a "
                       "sealed, signed client request is required",
                       headers={"WWW-Authenticate": "Bearer"})
    opened = await svc.authenticate_client(request)
    return opened.sender


@router.get("/v1/rounds/current", summary="configuration of the open round",
            openapi_extra=SEALED_GET)
async def current_round(request: Request) -> Response:
    svc = service(request)
    client_id = await _client_or_admin(request)
    info = await to_thread.run_sync(svc.store.current_round)
    if info is None:
        raise ApiError(404, "no_open_round", "no round is open")
    doc = info.public()
    doc["aggregator_id"] = svc.aggregator_id
    if client_id is None:
        return JSONResponse(doc)
    # Lets a client skip training and proving for a round it is already in.
    doc["already_accepted"] = await to_thread.run_sync(svc.store.accepted_exists, info.id,
                                                       client_id)
    return sealed_response(request, doc)


@router.get("/v1/rounds/{round_id}", summary="round state and counts (accepted, rejected by "
            "reason)", openapi_extra=SEALED_GET)
async def round_status(request: Request, round_id: int = RoundId) -> Response:
    svc = service(request)
    client_id = await _client_or_admin(request)
    doc = await svc.round_status(round_id)
    if client_id is None:
        doc["rejections"] = await to_thread.run_sync(svc.store.round_rejections, round_id)
        return JSONResponse(doc)
    return sealed_response(request, doc)


@router.get("/v1/rounds/{round_id}/model", summary="global model of the round (sealed); "
            "?stage=result for the model the round published", openapi_extra=SEALED_GET)
async def round_model(request: Request, round_id: int = RoundId) -> Response:
    svc = service(request)
    if request.headers.get("authorization"):
        require_admin(request, svc.admin_token)
        stage = request.query_params.get("stage", "start")
        if stage not in ("start", "result"):
            raise ApiError(422, "malformed", "stage must be 'start' or 'result'")
        blob = await to_thread.run_sync(svc.store.round_model, round_id, stage)
        if blob is None:
            raise ApiError(404, "not_found", f"round {round_id} has no {stage} model")
        return Response(blob, media_type="application/octet-stream")
    return await svc.model_response(request, round_id)


@router.post("/v1/rounds/{round_id}/close", dependencies=[Depends(admin)],
             summary="aggregate via the key authority and publish the model")
async def close_round(request: Request, round_id: int = RoundId) -> dict[str, Any]:
    return await service(request).close_round(round_id)
