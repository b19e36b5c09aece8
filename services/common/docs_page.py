"""A self-contained ``/docs`` page rendered on the server from the OpenAPI schema.

FastAPI's Swagger UI and ReDoc load their JavaScript and CSS from a CDN, so on an offline
network (hospital networks often are) they show a blank page. This page is plain HTML
with an inline style sheet: no ``<script>``, no external URL, everything escaped with
:func:`html.escape`. It lists the service's title and version, every path and method
with its summary, parameters and request-body schema, the component schemas' fields, and
links to the machine-readable ``/openapi.json``.

Use :func:`install_docs_page` on an app created with ``docs_url=None, redoc_url=None``.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

__all__ = ["CSP", "install_docs_page", "render_docs_page"]

# The page needs nothing but its own inline style sheet; the browser is told so.
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;
color:#1b1f23;max-width:80rem}
h1{margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #ccc}
.meta{color:#555}table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{border:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f4f6}code{font-family:ui-monospace,Menlo,Consolas,monospace;
font-size:.92em}.m{font-weight:bold;text-transform:uppercase;white-space:nowrap}
.get{color:#0b6e4f}.post{color:#1d4ed8}.put,.patch{color:#a16207}.delete{color:#b91c1c}
.desc{white-space:pre-wrap}
"""


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _schema_label(schema: dict[str, Any] | None) -> str:
    """A short, human-readable name of a schema (escaped HTML)."""
    if not schema:
        return "-"
    if "$ref" in schema:
        name = _ref_name(str(schema["$ref"]))
        return f'<a href="#schema-{_e(name)}"><code>{_e(name)}</code></a>'
    for combo in ("anyOf", "oneOf", "allOf"):
        if combo in schema:
            sep = " &amp; " if combo == "allOf" else " | "
            return sep.join(_schema_label(s) for s in schema[combo])
    kind = schema.get("type")
    if kind == "array":
        return f"array of {_schema_label(schema.get('items'))}"
    if kind is None:
        return "any"
    fmt = schema.get("format")
    return f"<code>{_e(kind)}</code>" + (f" ({_e(fmt)})" if fmt else "")


def _request_body(op: dict[str, Any]) -> str:
    body = op.get("requestBody")
    if not body:
        return "-"
    parts = []
    for media, content in (body.get("content") or {}).items():
        parts.append(f"<code>{_e(media)}</code>: {_schema_label(content.get('schema'))}")
    text = "<br>".join(parts) or "-"
    if body.get("required"):
        text += " <em>(required)</em>"
    if body.get("description"):
        text += f'<br><span class="desc">{_e(body["description"])}</span>'
    return text


def _parameters(op: dict[str, Any]) -> str:
    params = op.get("parameters") or []
    if not params:
        return "-"
    rows = []
    for p in params:
        req = "" if not p.get("required") else " *"
        rows.append(f"<code>{_e(p.get('name', '?'))}</code>{req} "
                    f"({_e(p.get('in', '?'))}, {_schema_label(p.get('schema'))})")
    return "<br>".join(rows)


def _responses(op: dict[str, Any]) -> str:
    codes = [str(c) for c in (op.get("responses") or {})]
    return ", ".join(f"<code>{_e(c)}</code>" for c in codes) or "-"


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for path, item in (schema.get("paths") or {}).items():
        for method in _METHODS:
            if method in item:
                out.append((path, method, item[method]))
    return out


def _schemas_section(schema: dict[str, Any]) -> str:
    comps = (schema.get("components") or {}).get("schemas") or {}
    if not comps:
        return ""
    html = ["<h2>Schemas</h2>"]
    for name, s in comps.items():
        html.append(f'<h3 id="schema-{_e(name)}"><code>{_e(name)}</code></h3>')
        if s.get("description"):
            html.append(f'<p class="desc">{_e(s["description"])}</p>')
        props = s.get("properties") or {}
        if not props:
            html.append(f"<p>{_schema_label(s)}</p>")
            continue
        required = set(s.get("required") or [])
        html.append("<table><tr><th>field</th><th>type</th><th>required</th>"
                    "<th>description</th></tr>")
        for field, fs in props.items():
            desc = fs.get("description") or fs.get("title") or ""
            default = f" (default: {_e(fs['default'])})" if "default" in fs else ""
            html.append(f"<tr><td><code>{_e(field)}</code></td><td>{_schema_label(fs)}</td>"
                        f"<td>{'yes' if field in required else 'no'}</td>"
                        f'<td class="desc">{_e(desc)}{default}</td></tr>')
        html.append("</table>")
    return "\n".join(html)


def render_docs_page(schema: dict[str, Any], openapi_url: str = "/openapi.json") -> str:
    """The whole page for an OpenAPI document (a dict as returned by ``app.openapi()``)."""
    info = schema.get("info") or {}
    title = info.get("title") or "API"
    version = info.get("version") or ""
    ops = _operations(schema)
    html = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)} {_e(version)} - API</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">version <code>{_e(version)}</code> &middot; OpenAPI '
        f'{_e(schema.get("openapi", ""))} &middot; machine-readable schema: '
        f'<a href="{_e(openapi_url)}"><code>{_e(openapi_url)}</code></a></p>',
    ]
    if info.get("description"):
        html.append(f'<p class="desc">{_e(info["description"])}</p>')
    html.append(f"<h2>Endpoints ({len(ops)})</h2>")
    html.append("<table><tr><th>method</th><th>path</th><th>summary</th><th>parameters</th>"
                "<th>request body</th><th>responses</th></tr>")
    for path, method, op in ops:
        summary = op.get("summary") or op.get("operationId") or ""
        desc = op.get("description")
        tags = op.get("tags") or []
        cell = _e(summary)
        if tags:
            cell += " " + " ".join(f"<small>[{_e(t)}]</small>" for t in tags)
        if desc and desc != summary:
            cell += f'<br><span class="desc">{_e(desc)}</span>'
        html.append(f'<tr><td class="m {_e(method)}">{_e(method.upper())}</td>'
                    f"<td><code>{_e(path)}</code></td><td>{cell}</td>"
                    f"<td>{_parameters(op)}</td><td>{_request_body(op)}</td>"
                    f"<td>{_responses(op)}</td></tr>")
    html.append("</table>")
    html.append(_schemas_section(schema))
    html.append("</body></html>")
    return "\n".join(html)


def install_docs_page(app: FastAPI, path: str = "/docs") -> None:
    """Add ``GET path`` (not in the schema) serving :func:`render_docs_page` for ``app``."""
    openapi_url = app.openapi_url or "/openapi.json"
    cache: dict[str, str] = {}

    @app.get(path, include_in_schema=False, response_class=HTMLResponse)
    async def docs_page(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        url = root + openapi_url
        page = cache.get(url)
        if page is None:
            page = cache[url] = render_docs_page(app.openapi(), url)
        return HTMLResponse(page, headers={"Content-Security-Policy": CSP,
                                           "X-Content-Type-Options": "nosniff",
                                           "Cache-Control": "no-cache"})
