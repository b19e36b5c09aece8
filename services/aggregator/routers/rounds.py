"""Rounds: open (admin), current config, status, model (sealed), close (admin)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from zkflpq.fl.adaptive_tau import RULE_ID, AdaptiveTau
from zkflpq.protocol import HEADER_SENDER

from ...common.http import ApiError, require_admin, sealed_response
from .deps import SEALED_GET, admin, service

router = APIRouter(tags=["rounds"])

RoundId = Path(..., ge=1, le=2**31 - 1)


MAX_D = 100_000_000
MAX_DEADLINE_S = 366 * 86400  # a round open for more than a year is a typo
MAX_TAU = 1e9
# Each round in the window costs reading its two models at open: a longer memory than
# this is a typo, not a rule.
MAX_TAU_WINDOW = 100


def _one_tau_error(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """One error at ``tau`` (not one per branch of number | "auto"), worded for a number:
    422 responses and tests name the field as ["body", "tau"]."""
    try:
        return handler(value)
    except ValidationError as exc:
        number_errors = [e["msg"] for e in exc.errors()
                         if not str(e["loc"][0] if e["loc"] else "").startswith("literal")]
        raise PydanticCustomError(
            "tau", "{problem} (tau is a number, or the string 'auto')",
            {"problem": number_errors[0] if number_errors else "invalid value"}) from None


TauValue = Annotated[
    Annotated[float, Field(gt=0, le=MAX_TAU, allow_inf_nan=False)] | Literal["auto"],
    WrapValidator(_one_tau_error)]


class TauRuleIn(BaseModel):
    """Parameters of the adaptive τ rule ``zkflpq-adaptive-tau/v1`` (see
    :mod:`zkflpq.fl.adaptive_tau`); an omitted field takes the rule's default. Strict:
    unknown fields, booleans and strings for numbers are refused (422 naming the field)."""

    model_config = ConfigDict(extra="forbid")

    rule: str = Field(RULE_ID, max_length=64, strict=True,
                      description=f"rule identifier; the only one known is {RULE_ID}")
    multiplier: float = Field(AdaptiveTau.multiplier, ge=1, le=1e6, allow_inf_nan=False,
                              strict=True, description="τ = multiplier · sqrt(K)·‖Δ̄‖")
    floor: float = Field(AdaptiveTau.floor, gt=0, le=MAX_TAU, allow_inf_nan=False,
                         strict=True, description="least τ (L2, model units)")
    ceiling: float = Field(AdaptiveTau.ceiling, gt=0, le=MAX_TAU, allow_inf_nan=False,
                           strict=True, description="largest τ (L2, model units)")
    window: int = Field(AdaptiveTau.window, ge=1, le=MAX_TAU_WINDOW, strict=True,
                        description="past rounds (of this model size) the rule looks at")
    initial: float | None = Field(AdaptiveTau.initial, gt=0, le=MAX_TAU, allow_inf_nan=False,
                                  strict=True, description="τ with no history (default: "
                                  "ceiling)")

    @field_validator("rule")
    @classmethod
    def _known_rule(cls, rule: str) -> str:
        if rule != RULE_ID:
            raise ValueError(f"unknown rule {rule!r}; known: {RULE_ID}")
        return rule

    @model_validator(mode="after")
    def _consistent(self) -> TauRuleIn:
        self.to_rule()  # floor ≤ initial ≤ ceiling: the rule's ValueError names the field
        return self

    def to_rule(self) -> AdaptiveTau:
        return AdaptiveTau.from_dict(self.model_dump())


class ModelIn(BaseModel):
    d: int = Field(..., ge=1, le=MAX_D, description="parameter count")
    layout: str = Field("", max_length=1_000_000, description="layout JSON (opaque)")
    vector: str = Field(..., max_length=4 * -(-4 * MAX_D // 3),
                        description="base64url float32 little-endian, d values")


class OpenRoundRequest(BaseModel):
    """Every number is finite (JSON ``Infinity``/``NaN`` → 422) and in a sane range; the
    parameter set further requires 1 <= B = floor(τ·scale) < t/2 (422 invalid_params).
    ``tau: "auto"`` derives τ from the aggregator's past rounds with ``tau_rule``."""

    tau: TauValue = Field(..., description="L2 clipping norm τ, or \"auto\": the adaptive "
                          "rule applied to the last closed rounds of the same model size")
    tau_rule: TauRuleIn | None = Field(None, description="adaptive rule's parameters (only "
                                       "with tau \"auto\"; default: the rule's defaults)")
    scale: float = Field(65536.0, gt=0, le=2.0**53, allow_inf_nan=False,
                         description="fixed-point scale; B = floor(τ·scale)")
    k_min: int = Field(2, ge=1, le=1_000_000)
    deadline_s: float | None = Field(None, gt=0, le=MAX_DEADLINE_S, allow_inf_nan=False,
                                     description="seconds from now until submissions close")
    model: ModelIn | None = Field(None, description="initial model (default: the last "
                                  "published one)")

    @model_validator(mode="after")
    def _rule_needs_auto(self) -> OpenRoundRequest:
        if self.tau_rule is not None and self.tau != "auto":
            # A rule next to a fixed τ would be silently ignored: refuse the ambiguity.
            raise ValueError("tau_rule is only valid with tau \"auto\" (tau is "
                             f"{self.tau:g} here)")
        return self

    def adaptive_tau_rule(self) -> AdaptiveTau:
        """The rule of a ``tau: "auto"`` request (its defaults without ``tau_rule``)."""
        return self.tau_rule.to_rule() if self.tau_rule is not None else AdaptiveTau()


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
