"""``/api/openapi.json``: the REST API described from the tools' own pydantic models.

Nothing here is written by hand per route: a route's parameters, body and result are the
schemas of the tool it calls (``rest.Endpoint.tool``), so the document cannot drift from
what the server accepts. Models are referenced from ``components.schemas`` (pydantic's
``$defs`` lifted there), as OpenAPI 3.1 expects.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from pydantic import BaseModel

from caw_lab.tools import Tool, load_all
from caw_lab.version import __version__
from caw_lab.web.rest import ENDPOINTS, Endpoint

REF = "#/components/schemas/{model}"
ERROR = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}, "recoverable": {"type": "boolean"},
        "suggestion": {"type": "string"}, "details": {"type": "object"}}}},
}
ERROR_RESPONSES = {
    "401": "Missing or wrong token", "404": "Not found (*_NOT_FOUND)", "409": "Conflicts with the current state",
    "422": "Invalid input", "default": "Another refusal, as a CawError",
}


class Document:
    """An OpenAPI document being assembled: paths, and the schemas they reference."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {"Error": ERROR}

    def model(self, name: str, model: type[BaseModel], mode: str) -> dict[str, Any]:
        """A reference to ``model``'s schema, registered under ``name`` with its definitions."""
        if name not in self.schemas:
            schema = model.model_json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
            for key, definition in schema.pop("$defs", {}).items():
                self.schemas.setdefault(key, definition)
            self.schemas[name] = schema
        return {"$ref": REF.format(model=name)}

    def params(self, tool: Tool) -> dict[str, Any]:
        return self.model(f"{tool.name}.params", tool.params, "validation")

    def result(self, tool: Tool) -> dict[str, Any]:
        return self.model(f"{tool.name}.result", tool.result, "serialization") if tool.result else {"type": "object"}

    def operation(self, endpoint: Endpoint, tool: Tool) -> dict[str, Any]:
        names = re.findall(r"\{(\w+)\}", endpoint.path)
        parameters = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names]
        given = {*endpoint.path_args.values(), *endpoint.fixed}
        if endpoint.method == "GET":
            schema = tool.params.model_json_schema(ref_template=REF)
            required = set(schema.get("required", ()))
            parameters += [{"name": name, "in": "query", "required": name in required, "schema": prop}
                           for name, prop in schema.get("properties", {}).items() if name not in given]
        data = self.result(tool)
        if endpoint.pick:
            data = {"type": "array", "items": {"type": "object"}}
        ok = {"description": "OK", "content": {"application/json": {"schema": {
            "type": "object", "required": ["data"], "properties": {"data": data, "meta": {"type": "object"}}}}}}
        operation: dict[str, Any] = {
            "operationId": f"{endpoint.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', endpoint.path.lower()).strip('_')}",
            "summary": endpoint.summary, "description": f"Calls the tool `{tool.name}`: {tool.description}",
            "tags": [tool.group], "parameters": parameters,
            "responses": {"201" if endpoint.created else "200": ok, **self.errors()},
        }
        if endpoint.method != "GET":
            operation["requestBody"] = {"required": False, "content": {"application/json": {
                "schema": self.params(tool)}}}
        return operation

    def errors(self) -> dict[str, Any]:
        error = {"application/json": {"schema": {"$ref": REF.format(model="Error")}}}
        return {status: {"description": text, "content": error} for status, text in ERROR_RESPONSES.items()}


@functools.cache
def openapi() -> dict[str, Any]:
    """Built once per process: the tools do not change while it runs."""
    tools = load_all()
    doc = Document()
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = doc.operation(endpoint, tools[endpoint.tool])
    for name, tool in sorted(tools.items()):
        read_only = bool(tool.hints and tool.hints.read_only)
        path = f"/api/tools/{name}"
        for method in ("GET", "POST") if read_only else ("POST",):
            paths.setdefault(path, {})[method.lower()] = doc.operation(Endpoint(method, path, name, name), tool)
    return {
        "openapi": "3.1.0",
        "info": {"title": "caw-lab", "version": __version__,
                 "description": "Workflows of tasks for coding agents: the reference's REST API and every tool."},
        "paths": paths,
        "components": {"schemas": doc.schemas, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "cookie": {"type": "apiKey", "in": "cookie", "name": "caw_token"}}},
        "security": [{"bearer": []}, {"cookie": []}],
    }
