"""/docs is a self-contained HTML page rendered from the OpenAPI schema (usable offline):
no <script>, no external URL, every route listed, everything escaped; /openapi.json
still served; Swagger UI / ReDoc are gone."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from svc_helpers import PARAMS

from services.common.docs_page import render_docs_page

TOKEN = "docs-test-admin-token-0123456789"


def _ka_app(root: Path) -> Any:
    from services.common.settings import KeyAuthoritySettings
    from services.key_authority.app import create_app
    from services.key_authority.service import init_key_authority

    init_key_authority(root, PARAMS, "xwing", admin=TOKEN)
    return create_app(KeyAuthoritySettings(data_dir=root))


def _agg_app(root: Path) -> Any:
    from services.aggregator.app import create_app
    from services.common.settings import AggregatorSettings

    return create_app(AggregatorSettings(data_dir=root, verify_executor="inline"))


def _get(app: Any, *paths: str) -> list[httpx.Response]:
    # ASGITransport runs no lifespan: the service never starts, the routes still answer.
    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return [await http.get(p) for p in paths]

    return asyncio.run(go())


def _assert_offline_html(page: str, text_urls: bool = False) -> None:
    low = page.lower()
    assert "<script" not in low
    # No external resource or link of any kind: src/href only ever point inside the page
    # or at the service itself.
    for attr in re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', page, flags=re.I):
        assert not re.match(r"^\s*(?:[a-z][a-z0-9+.-]*:|//)", attr, flags=re.I), attr
    if not text_urls:  # (escaped text may mention a URL; it is not a reference)
        assert "http://" not in low and "https://" not in low
    assert "@import" not in low and "url(" not in low


@pytest.mark.parametrize("which", ["key-authority", "aggregator"])
def test_docs_page_offline_and_complete(which: str, tmp_path: Path) -> None:
    app = _ka_app(tmp_path / "ka") if which == "key-authority" else _agg_app(tmp_path / "agg")
    docs, schema, redoc = _get(app, "/docs", "/openapi.json", "/redoc")
    assert docs.status_code == 200, docs.text
    assert docs.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in docs.headers["content-security-policy"]
    page = docs.text
    _assert_offline_html(page)
    assert redoc.status_code == 404  # no CDN-backed UI left behind

    assert schema.status_code == 200
    doc = schema.json()
    assert "/docs" not in doc["paths"]  # excluded from the schema
    assert doc["info"]["title"] in page and doc["info"]["version"] in page
    assert 'href="/openapi.json"' in page
    n = 0
    for path, item in doc["paths"].items():
        assert f"<code>{path}</code>" in page, path
        for method, op in item.items():
            n += 1
            assert f">{method.upper()}</td><td><code>{path}</code>" in page, (method, path)
            if op.get("summary"):
                from html import escape
                assert escape(op["summary"]) in page
            body = op.get("requestBody", {}).get("content", {})
            for media, content in body.items():
                assert media in page
                ref = content.get("schema", {}).get("$ref")
                if ref:
                    name = ref.rsplit("/", 1)[-1]
                    assert f'href="#schema-{name}"' in page and f'id="schema-{name}"' in page
    assert f"Endpoints ({n})" in page
    assert "/healthz" in page and "/v1/params" in page


def test_docs_page_for_known_request_bodies(tmp_path: Path) -> None:
    page = _get(_agg_app(tmp_path / "agg"), "/docs")[0].text
    assert "OpenRoundRequest" in page and "EnrolRequest" in page
    assert "application/vnd.zkflpq.sealed" in page
    page = _get(_ka_app(tmp_path / "ka"), "/docs")[0].text
    assert "AggregatorEnrolRequest" in page and "/v1/decryptions" in page


def test_render_escapes_everything() -> None:
    evil = '<script>alert("x")</script><img src="https://evil.example/x.png">'
    schema: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": evil, "version": "1'\"<>", "description": evil},
        "paths": {
            "/a/<b>": {"post": {
                "summary": evil, "description": evil, "tags": [evil],
                "parameters": [{"name": evil, "in": "query", "required": True,
                                "schema": {"type": evil}}],
                "requestBody": {"required": True, "description": evil, "content": {
                    evil: {"schema": {"$ref": f"#/components/schemas/{evil}"}}}},
                "responses": {evil: {"description": "x"}}}}},
        "components": {"schemas": {evil: {
            "description": evil, "required": [evil],
            "properties": {evil: {"type": "string", "description": evil, "default": evil}}}}},
    }
    page = render_docs_page(schema, openapi_url='/x"><script>')
    _assert_offline_html(page, text_urls=True)
    assert "<img" not in page and "&lt;script&gt;" in page
    assert "/a/&lt;b&gt;" in page


def test_render_minimal_schema() -> None:
    page = render_docs_page({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
                             "paths": {}})
    assert "Endpoints (0)" in page and "<h2>Schemas</h2>" not in page
    _assert_offline_html(page)
