"""Shared router dependencies and OpenAPI fragments."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from zkflpq.protocol import HEADER_SEALED, HEADER_SENDER, HEADER_TIMESTAMP, SEALED_MEDIA_TYPE

from ...common.http import require_admin
from ..service import AggregatorService


def service(request: Request) -> AggregatorService:
    return request.app.state.service


def admin(request: Request) -> None:
    require_admin(request, service(request).admin_token)


_AUTH_HEADERS: list[dict[str, Any]] = [
    {"name": HEADER_SENDER, "in": "header", "required": True, "schema": {"type": "string"},
     "description": "client id (bound into the seal's context)"},
    {"name": HEADER_TIMESTAMP, "in": "header", "required": True,
     "schema": {"type": "integer"}, "description": "unix seconds (bound into the context)"},
]

SEALED_GET: dict[str, Any] = {
    "parameters": [*_AUTH_HEADERS, {
        "name": HEADER_SEALED, "in": "header", "required": False,
        "schema": {"type": "string"},
        "description": "base64url sealed, signed request envelope (clients; admins use "
                       "a bearer token instead where allowed)"}],
    "responses": {"200": {"content": {SEALED_MEDIA_TYPE: {"schema": {
        "type": "string", "format": "binary"}}},
        "description": "sealed envelope (response key of the request)"}},
}

SEALED_POST: dict[str, Any] = {
    "parameters": _AUTH_HEADERS,
    "requestBody": {"required": True, "content": {SEALED_MEDIA_TYPE: {"schema": {
        "type": "string", "format": "binary"}}},
        "description": "sealed envelope: meta {client_id, round_id, timestamp, nonce}, parts "
                       "ciphertexts, proof, signature"},
}
