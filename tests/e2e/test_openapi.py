"""Property-based test of the HTTP API against its own /openapi.json (schemathesis), on
the running service: no 5xx, and every response's status, content type and body conform
to the document. Bounded (a few examples per operation) and deterministic (derandomized)."""

from __future__ import annotations

import aiohttp
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from dashboards.openapi import PATHS
from tests.support.service import RunningService

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_api_conforms_to_its_openapi_document(service: RunningService) -> None:
    token = service.token("operator")
    schema = schemathesis.openapi.from_url(service.base_url + "/openapi.json", timeout=30)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(item) for item in PATHS.values())
    headers = {"Authorization": f"Bearer {token}"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=service.base_url, headers=headers, checks=CHECKS)

        check()


async def test_unknown_api_paths_and_wrong_methods_answer_json(service: RunningService) -> None:
    token = service.token("operator")
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(service.base_url + "/api/nothing-here", headers=headers) as r:
            assert r.status == 404 and r.content_type == "application/json"
            assert "error" in await r.json()
        async with session.delete(service.base_url + "/api/summary", headers=headers) as r:
            assert r.status == 405 and r.content_type == "application/json"
            assert "GET" in r.headers["Allow"] and "error" in await r.json()
        async with session.get(service.base_url + "/api/nothing-here") as r:
            assert r.status == 401 and "error" in await r.json()
        async with session.get(service.base_url + "/docs") as r:
            page = await r.text()
            assert r.status == 200 and "/static/docs.js" in page and "<script>" not in page
        async with session.get(service.base_url + "/static/docs.js") as r:
            assert r.status == 200 and "openapi.json" in await r.text()
