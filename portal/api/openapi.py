"""The OpenAPI 3.1 document of ``/api/v1``, built from what the domains register.

Each operation is registered with the pydantic models of its body and responses
(:func:`register_operation`); the JSON Schemas come from pydantic (JSON Schema 2020-12, the dialect of
OpenAPI 3.1), so the document describes exactly what the views validate and return. Every operation
documents the problem responses it can give (RFC 9457), so a schema-driven fuzzer (schemathesis, in the
tests) can hold the API to it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from portal.core.registry import Registry

REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Operation:
    path: str                      # OpenAPI path under /api/v1, e.g. "/feedback"
    method: str                    # get, post
    operation_id: str
    summary: str
    scope: str                     # the token scope it needs
    responses: dict[int, tuple[type[BaseModel] | None, str]]   # status → (model or None for a problem, description)
    body: type[BaseModel] | None = None
    parameters: tuple[dict, ...] = ()
    description: str = ""
    tags: tuple[str, ...] = ()
    response_headers: dict[int, dict[str, dict]] = field(default_factory=dict)


operations: Registry[Operation] = Registry("api operations")


def register_operation(operation: Operation, order: int = 100) -> Operation:
    return operations.register(f"{operation.method} {operation.path}", operation, order=order)


class Problem(BaseModel):
    """A problem details document (RFC 9457)."""

    type: str
    title: str
    status: int
    code: str
    detail: str
    errors: list[dict[str, str]] | None = None


def build_spec(server_url: str, version: str) -> dict[str, Any]:
    ops = list(operations)
    models: dict[type[BaseModel], str] = {Problem: "serialization"}
    for op in ops:
        if op.body is not None:
            models[op.body] = "validation"
        for model, _description in op.responses.values():
            if model is not None:
                models.setdefault(model, "serialization")
    keyed, top = models_json_schema([(m, mode) for m, mode in models.items()], ref_template=REF)
    schemas = top.get("$defs", {})

    def ref(model: type[BaseModel], mode: str) -> dict:
        return keyed[(model, mode)]

    paths: dict[str, dict] = {}
    for op in ops:
        responses = {}
        for status, (model, description) in sorted(op.responses.items()):
            if model is None:
                content = {"application/problem+json": {"schema": ref(Problem, "serialization")}}
            else:
                content = {"application/json": {"schema": ref(model, models[model])}}
            responses[str(status)] = {"description": description, "content": content}
            if status in op.response_headers:
                responses[str(status)]["headers"] = op.response_headers[status]
        entry: dict[str, Any] = {
            "operationId": op.operation_id, "summary": op.summary, "tags": list(op.tags),
            "security": [{"bearerAuth": [op.scope]}], "responses": responses,
        }
        if op.description:
            entry["description"] = op.description
        if op.parameters:
            entry["parameters"] = list(op.parameters)
        if op.body is not None:
            entry["requestBody"] = {"required": True,
                                    "content": {"application/json": {"schema": ref(op.body, "validation")}}}
        paths.setdefault(op.path, {})[op.method] = entry
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "服务质量门户 API",
            "version": version,
            "description": ("设备与集成接口：评价器、平板和 BI 工具。以 Authorization: Bearer <令牌> 认证；令牌由系统管理员在"
                            "“系统管理 › API 令牌”中签发，分 read 与 write 两种权限。错误以 RFC 9457 问题详情返回。"),
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "API 令牌（sqp_ 开头）"}},
        },
    }
