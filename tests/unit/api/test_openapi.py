"""The OpenAPI document describes exactly the registered endpoints."""

from __future__ import annotations

import re

from hotline_pbx.api.app_factory import ENDPOINTS
from hotline_pbx.api.openapi import openapi_document

PUBLIC = {("/healthz", "get"), ("/readyz", "get"), ("/metrics", "get"),
          ("/api/v1/openapi.json", "get")}


def _operations() -> dict[tuple[str, str], dict]:  # type: ignore[type-arg]
    doc = openapi_document()
    return {(path, method): op for path, item in doc["paths"].items()
            for method, op in item.items()}


def test_paths_and_methods_match_the_handlers() -> None:
    documented = set(_operations()) - PUBLIC
    registered = {(e.path, e.method.lower()) for e in ENDPOINTS}
    assert registered
    assert documented == registered


def test_query_parameters_and_roles_match() -> None:
    operations = _operations()
    assert ENDPOINTS
    with_body = 0
    for endpoint in ENDPOINTS:
        op = operations[(endpoint.path, endpoint.method.lower())]
        query = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
        assert query == set(endpoint.query), endpoint.path
        path_params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert path_params == set(re.findall(r"{(\w+)}", endpoint.path)), endpoint.path
        assert op["x-hotline-role"] == endpoint.role.key, endpoint.path
        for status in ("401", "403", "400"):
            assert status in op["responses"], (endpoint.path, status)
        if op.get("requestBody"):
            with_body += 1
            assert {"413", "415", "422"} <= set(op["responses"]), endpoint.path
    assert with_body  # the request-body rule was checked at least once


def test_every_reference_resolves() -> None:
    doc = openapi_document()
    text = str(doc)
    references = re.findall(r"#/components/schemas/(\w+)", text)
    assert references
    for name in references:
        assert name in doc["components"]["schemas"], name


def test_design_paths_are_all_there() -> None:
    """DESIGN.md's REST list, every path and method."""
    wanted = {("/api/v1/schedule", m) for m in ("get", "put")} | {
        ("/api/v1/exceptions", m) for m in ("get", "post", "delete")} | {
        ("/api/v1/override", m) for m in ("get", "put", "delete")} | {
        ("/api/v1/roster", m) for m in ("get", "put")} | {
        ("/api/v1/calls", "get"), ("/api/v1/calls/{id}", "get"),
        ("/api/v1/calls/{id}/notes", "post"), ("/api/v1/stats", "get"),
        ("/api/v1/faults", "get"), ("/api/v1/blocked-outbound", "get"),
        ("/api/v1/audit", "get"), ("/api/v1/openapi.json", "get")} | PUBLIC
    assert wanted <= set(_operations())
