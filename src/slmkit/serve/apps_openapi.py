"""The OpenAPI 3.1 document of the apps this server mounts (``GET /v1/apps/openapi.json``).

Each app's request body is drawn from its form (``core.apps.AppForm``: field kinds,
choices, defaults, bounds; a ``document`` field also takes ``documents``, a list of text or
base64 files), with ``stream`` for the progress events; the answers and errors are the ones
``routes_apps`` gives every app. The server has no OpenAPI page for its other routes
(``openapi_url=None``: the OpenAI and Ollama APIs are documented by their vendors); this
one describes ``/v1/apps``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slmkit.core.apps import AppForm, AppHandler, FormField

DOCUMENTS = {
    "type": "array", "minItems": 1, "maxItems": 100,
    "description": "files, instead of `text`: each with its text or its bytes in base64 "
                   "(PDF, DOCX, HTML, Markdown, .eml, .mbox, ...)",
    "items": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"}, "text": {"type": "string"},
        "content_base64": {"type": "string", "contentEncoding": "base64"}}}}
STREAM = {"type": "boolean", "default": False,
          "description": "answer as text/event-stream: `progress` events, then one "
                         "`result` or `error` event"}
ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["message", "type", "code"], "properties": {
        "message": {"type": "string"}, "type": {"type": "string"},
        "code": {"type": ["string", "null"]}, "hint": {"type": "string"}}}}}
ERRORS = {"400": "a body that is not a JSON object, or a field the app refuses (the message "
                 "names it)",
          "401": "a missing or wrong API key (when the server has keys)",
          "404": "no app of that name on this server",
          "413": "the body is larger than the server's limit"}


def field_schema(f: FormField) -> dict[str, Any]:
    """The JSON schema of one form field."""
    kind = {"number": {"type": "integer"}, "boolean": {"type": "boolean"},
            "choice": {"type": "string", "enum": list(f.choices)}}.get(f.kind,
                                                                        {"type": "string"})
    out: dict[str, Any] = {**kind, "title": f.label}
    if f.help:
        out["description"] = f.help
    if f.default is not None:
        out["default"] = f.default
    if f.minimum is not None:
        out["minimum"] = f.minimum
    if f.maximum is not None:
        out["maximum"] = f.maximum
    return out


def body_schema(form: AppForm | None) -> dict[str, Any]:
    """The request body of an app: its form's fields (any JSON object without a form)."""
    if form is None:
        return {"type": "object", "properties": {"stream": STREAM}}
    props = {f.name: field_schema(f) for f in form.fields}
    required = [f.name for f in form.fields if f.required]
    docs = [f.name for f in form.fields if f.kind == "document"]
    if docs:  # a document field: its text, or a list of files
        props["documents"] = DOCUMENTS
        required = [n for n in required if n not in docs]
        one_of = [{"required": [docs[0]]}, {"required": ["documents"]}]
    props["stream"] = STREAM
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    if docs:
        schema["oneOf"] = one_of
    return schema


def _operation(name: str, form: AppForm | None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": "app_" + name.replace("/", "_"), "tags": ["apps"],
        "summary": form.title if form else name,
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": body_schema(form)}}},
        "responses": {
            "200": {"description": "the app's result (a JSON object), or with `stream` "
                                   "the progress events",
                    "content": {"application/json": {"schema": {"type": "object"}},
                                "text/event-stream": {"schema": {"type": "string"}}}},
            **{code: {"description": why, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Error"}}}}
               for code, why in ERRORS.items()}}}
    if form and form.description:
        op["description"] = form.description
    return op


def _form(handler: AppHandler) -> AppForm | None:
    form = getattr(handler, "form", None)
    return form if isinstance(form, AppForm) else None


def openapi(apps: Mapping[str, AppHandler], version: str) -> dict[str, Any]:
    """The OpenAPI document of ``apps`` (``{name: handler}``) as served at ``/v1/apps``."""
    paths: dict[str, Any] = {"/v1/apps": {"get": {
        "operationId": "apps_list", "tags": ["apps"], "summary": "the apps on this server",
        "responses": {"200": {"description": "`{object: list, data: [{name, form}]}`",
                              "content": {"application/json": {"schema": {
                                  "type": "object"}}}}}}}}
    for name, handler in sorted(apps.items()):
        paths[f"/v1/apps/{name}"] = {"post": _operation(name, _form(handler))}
    return {"openapi": "3.1.0",
            "info": {"title": "slmkit apps", "version": version,
                     "description": "The apps `slm serve` mounts under /v1/apps."},
            "paths": paths,
            "components": {"schemas": {"Error": ERROR}, "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer",
                           "description": "needed when the server has API keys"}}},
            "security": [{"apiKey": []}, {}]}
