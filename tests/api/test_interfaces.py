"""What integrators rely on: an OpenAPI document that validates and tells every error, a page for
every problem type, and documentation pages that work with no internet."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from api.app import create_app
from api.problem_types import PROBLEM_TYPES
from ledger.domain import errors
from ledger.store.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def client(tmp_path: Path) -> TestClient:
    return TestClient(create_app(Settings(data_dir=tmp_path, id_key="i" * 40)))


def test_the_openapi_document_validates_and_documents_every_error(tmp_path: Path) -> None:
    with client(tmp_path) as c:
        document = c.get("/openapi.json").json()
    validate(document)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            expected = (
                {"422", "503"}
                if path in ("/healthz", "/readyz")
                else {"401", "403", "404", "409", "413", "422", "503"}
            )
            assert expected <= set(responses), f"{method} {path}"
            for status in expected:
                content = responses[status]["content"]
                assert list(content) == ["application/problem+json"], f"{method} {path} {status}"
            ok = [code for code in responses if code.startswith("2")]
            schemas = [
                s.get("schema", {})
                for code in ok
                for s in responses[code].get("content", {}).values()
            ]
            assert all(
                any(key in schema for key in ("$ref", "type", "anyOf", "properties", "items"))
                for schema in schemas
            ), f"{method} {path} has an untyped answer"
    assert "HTTPValidationError" not in document["components"]["schemas"]


def emitted_codes() -> set[str]:
    """Every problem code the code base can emit: domain errors, and the API's own."""
    codes: set[str] = set()
    pending = [errors.DomainError]
    import ledger.files.deposits  # noqa: F401 - defines errors of its own

    while pending:
        klass = pending.pop()
        codes.add(klass.code)
        pending += klass.__subclasses__()
    for path in (ROOT / "api").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") in (
                "ApiProblem",
                "problem",
                "send_problem",
            ):
                codes |= {
                    arg.value
                    for arg in node.args[1:3]
                    if isinstance(arg, ast.Constant)
                    and isinstance(arg.value, str)
                    and re.fullmatch(r"[a-z_]+", arg.value)
                }
    return codes


def test_every_problem_type_has_a_page(tmp_path: Path) -> None:
    codes = emitted_codes()
    assert codes - set(PROBLEM_TYPES) == set()
    with client(tmp_path) as c:
        for code in sorted(codes):
            page = c.get(f"/problems/{code}")
            assert page.status_code == 200 and "What to do" in page.text, code
        assert c.get("/problems/no_such_code").status_code == 404
        unknown = c.get("/v1/me")  # a problem document's type resolves to its page
        assert c.get(unknown.json()["type"]).status_code == 200
    assert inspect.isclass(errors.DomainError)


def test_documentation_pages_work_with_no_internet(tmp_path: Path) -> None:
    with client(tmp_path) as c:
        for page in ("/docs", "/redoc"):
            text = c.get(page).text
            assets = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)["\']', text)
            assert assets, page
            for asset in assets:
                assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
                assert c.get(asset).status_code == 200, asset
            assert "googleapis" not in text and "cdn" not in text.lower()
