"""The OpenAPI document and the router agree: every route under /api/ is described, and
nothing is described that is not routed."""

from __future__ import annotations

from dashboards.app import create_app
from dashboards.openapi import document
from tariq.config import Settings


def routed() -> set[tuple[str, str]]:
    app = create_app(Settings())
    found = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/api/") and route.method not in ("HEAD", "*"):
            found.add((route.method.lower(), path))
    return found


def described() -> set[tuple[str, str]]:
    return {(method, path) for path, item in document()["paths"].items() for method in item}


def test_every_api_route_is_in_the_document_and_vice_versa() -> None:
    assert routed() == described()


def test_document_is_openapi_3_1_with_error_shapes() -> None:
    doc = document()
    assert doc["openapi"].startswith("3.1")
    for path, item in doc["paths"].items():
        assert path.startswith("/api/")
        for operation in item.values():
            responses = operation["responses"]
            assert "401" in responses, path
            error_schema = responses["401"]["content"]["application/json"]["schema"]
            assert error_schema["required"] == ["error"]
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    assert "{" + parameter["name"] + "}" in path
