"""FastAPI plumbing shared by both services: errors, body limits, admin auth, sealed
responses, request logging/metrics middleware and exception handlers.

Error contract: every rejection is ``{"error": <machine reason>, "detail": <text>}`` with a
4xx status. When the request was already opened (a response key exists on
``request.state``) the error body is sealed like any other response; otherwise it is
plain JSON. No handler lets an exception escape as a 500 with internals: the catch-all
handler logs the exception type (never request data) and answers ``500 internal``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from zkflpq.pq import ResponseKey
from zkflpq.protocol import SEALED_MEDIA_TYPE, encode_envelope

__all__ = [
    "ApiError",
    "HttpMetrics",
    "install_common",
    "read_body",
    "require_admin",
    "sealed_response",
]

log = logging.getLogger("zkflpq.http")

# Largest oversized body we still read (and discard) so that the client, which writes
# its whole request before reading, receives the 413 instead of a broken pipe.
_DRAIN_CAP = 64 * 1024 * 1024


class ApiError(Exception):
    """A 4xx (or 429/503) answer with a machine-readable reason."""

    def __init__(self, status: int, reason: str, detail: str = "",
                 headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None):
        super().__init__(f"{status} {reason}: {detail}")
        self.status = status
        self.reason = reason
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        return {"error": self.reason, "detail": self.detail, **self.extra}


def sealed_response(request: Request, meta: dict[str, Any], parts: dict[str, bytes] | None = None,
                    status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Seal ``meta``/``parts`` as an envelope with the request's response key."""
    rk: ResponseKey | None = getattr(request.state, "response_key", None)
    ctx: bytes | None = getattr(request.state, "response_ctx", None)
    if rk is None or ctx is None:  # pragma: no cover - programming error
        raise RuntimeError("no response key for a sealed response")
    body = rk.seal(encode_envelope(meta, parts), ctx)
    return Response(content=body, status_code=status, media_type=SEALED_MEDIA_TYPE,
                    headers=headers)


def error_response(request: Request, err: ApiError) -> Response:
    headers = {**err.headers, "X-Zkflpq-Reason": err.reason}
    if getattr(request.state, "response_key", None) is not None:
        return sealed_response(request, err.body(), status=err.status, headers=headers)
    return JSONResponse(err.body(), status_code=err.status, headers=headers)


async def read_body(request: Request, limit: int, timeout_s: float | None = None) -> bytes:
    """Read the request body, raising 413 ``too_large`` above ``limit`` bytes, and 408
    ``body_timeout`` (connection closed) unless all of it arrives within ``timeout_s``.
    Nothing is buffered beyond ``limit``; call it only once the sender was admitted."""
    try:
        if timeout_s is None:
            return await _read_body(request, limit)
        async with asyncio.timeout(timeout_s):
            return await _read_body(request, limit)
    except TimeoutError:
        if timeout_s is None:
            raise
        raise ApiError(408, "body_timeout", f"request body not received within {timeout_s:g} s",
                       headers={"Connection": "close"}) from None
    except ClientDisconnect:  # nobody to answer; not an internal error either
        raise ApiError(400, "disconnected", "the client went away during the upload",
                       headers={"Connection": "close"}) from None


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            n = int(declared)
        except ValueError:
            raise ApiError(400, "malformed", "invalid Content-Length") from None
        if n < 0:
            raise ApiError(400, "malformed", "invalid Content-Length")
        if n > limit:
            if n <= _DRAIN_CAP:
                async for _ in request.stream():
                    pass
            raise ApiError(413, "too_large", f"body of {n} bytes exceeds the limit of {limit}",
                           headers={"Connection": "close"})
    chunks: list[bytes] = []
    total = 0
    over = False
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            over = True
            chunks = []
            if total > _DRAIN_CAP:
                break
            continue
        chunks.append(chunk)
    if over:
        raise ApiError(413, "too_large", f"body exceeds the limit of {limit} bytes",
                       headers={"Connection": "close"})
    return b"".join(chunks)


def _digest(s: str) -> bytes:
    return hashlib.sha256(s.encode("utf-8", "surrogatepass")).digest()


def require_admin(request: Request, expected: str) -> None:
    """Bearer-token check: constant-time comparison of SHA-256 digests (equal lengths, so
    neither the token nor its length leaks through timing). The token is never logged."""
    header = request.headers.get("authorization")
    if not header:
        raise ApiError(401, "unauthenticated", "admin bearer token required",
                       headers={"WWW-Authenticate": "Bearer"})
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "unauthenticated", "expected 'Authorization: Bearer <token>'",
                       headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(_digest(token.strip()), _digest(expected)):
        raise ApiError(403, "forbidden", "invalid admin token")


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.registry = registry
        self.requests = Counter("zkflpq_http_requests_total", "HTTP requests",
                                ["service", "route", "method", "status"], registry=registry)
        self.latency = Histogram("zkflpq_http_request_seconds", "HTTP request latency",
                                 ["service", "route", "method"], registry=registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
                                          10, 30, 60, 120))
        self.service = service


class BodyLimitMiddleware:
    """Pure ASGI guard in front of every route: a POST/PUT/PATCH must declare its length
    (411 otherwise) and may not declare more than ``limit`` bytes (413, after draining
    up to 64 MiB so the client can read the answer)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        status, reason, detail = 0, "", ""
        if declared is None:
            if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
                status, reason, detail = 411, "length_required", "Content-Length is required"
        else:
            try:
                n = int(declared)
                if n < 0:
                    raise ValueError
            except ValueError:
                status, reason, detail = 400, "malformed", "invalid Content-Length"
            else:
                if n > self.limit:
                    status, reason = 413, "too_large"
                    detail = f"body of {n} bytes exceeds the limit of {self.limit}"
                    if n <= _DRAIN_CAP:
                        more = True
                        while more:
                            msg = await receive()
                            more = msg.get("type") == "http.request" and msg.get("more_body")
        if not status:
            await self.app(scope, receive, send)
            return
        body = json.dumps({"error": reason, "detail": detail}).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"x-zkflpq-reason", reason.encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


# Metric labels are bounded whatever the requests: the route is the matched route's
# template ("/v1/rounds/{round_id}"), "unmatched" when none matched; a method outside
# RFC 9110's is "OTHER". Status codes are the ones the application answers.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
                      "TRACE", "CONNECT"})


def _route_of(request: Request) -> str:
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "unmatched"


def _method_of(request: Request) -> str:
    method = request.method
    return method if method in _METHODS else "OTHER"


def install_common(app: FastAPI, service: str, registry: CollectorRegistry,
                   max_body_bytes: int) -> HttpMetrics:
    """Exception handlers, body limit, request log + metrics middleware, /metrics, /healthz."""
    metrics = HttpMetrics(registry, service)
    req_log = logging.getLogger(f"zkflpq.{service}.access")

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errs = [{"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", ""))}
                for e in exc.errors()][:10]
        # Name the fields in the detail too: "invalid request" alone leaves an operator
        # guessing which of --tau / --k-min / --deadline-s was refused.
        named = "; ".join(f"{'.'.join(e['loc'][1:]) or e['loc'][0] if e['loc'] else 'body'}"
                          f": {e['msg']}" for e in errs)
        return error_response(request, ApiError(422, "malformed",
                                                f"invalid request: {named}"[:500],
                                                extra={"errors": errs}))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        reason = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(request, ApiError(exc.status_code, reason, str(exc.detail)))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled exception", extra={"fields": {
            "exc_type": type(exc).__name__, "path": request.url.path}})
        return JSONResponse({"error": "internal", "detail": "internal error"}, status_code=500)

    app.add_middleware(BodyLimitMiddleware, limit=max_body_bytes)  # inner: _observe sees 413s

    @app.middleware("http")
    async def _observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]
                       ) -> Response:
        t0 = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:
            # Unhandled: the catch-all handler (outermost, in ServerErrorMiddleware)
            # answers 500 internal once this re-raises; count and log it here.
            observe(request, 500, "internal", time.perf_counter() - t0)
            raise
        observe(request, response.status_code, response.headers.get("x-zkflpq-reason"),
                time.perf_counter() - t0)
        return response

    def observe(request: Request, status: int, reason: str | None, dt: float) -> None:
        route = _route_of(request)
        if route == "/metrics":
            return
        method = _method_of(request)
        metrics.requests.labels(service, route, method, str(status)).inc()
        metrics.latency.labels(service, route, method).observe(dt)
        req_log.info("request", extra={"fields": {
            "method": request.method, "path": request.url.path, "route": route,
            "status": status, "ms": round(dt * 1000, 2),
            "sender": request.headers.get("x-zkflpq-sender"), "reason": reason}})

    @app.get("/healthz", tags=["ops"], summary="liveness")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "service": service}

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics",
             response_class=Response)
    async def metrics_endpoint() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return metrics


def json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()
