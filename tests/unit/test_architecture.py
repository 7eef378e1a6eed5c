"""The architecture, checked on the source: imports point one way, the domain has no I/O, and
scope is decided in one module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imports_of(package: str) -> dict[str, set[str]]:
    """module path -> the top-level packages and modules it imports."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def test_dependencies_point_one_way() -> None:
    for module, names in imports_of("ledger").items():
        assert not any(n.split(".")[0] in ("api", "projections", "fastapi") for n in names), module
    for module, names in imports_of("projections").items():
        assert not any(n.split(".")[0] in ("api", "fastapi") for n in names), module


def test_the_domain_does_no_input_or_output() -> None:
    io = ("psycopg", "sqlite3", "ledger.store", "ledger.files", "ledger.application", "os")
    for module, names in imports_of("ledger/domain").items():
        assert not any(n == m or n.startswith(m + ".") for n in names for m in io), module


SCOPE_DECISIONS = re.compile(
    r"principal\.(sirets|role|profile)\b(?!=)|reads_everything|scope_years|"
    r"FROM employer_index WHERE"
)


def test_scope_is_decided_in_the_scope_module_only() -> None:
    allowed = {
        "projections/scope.py",
        "api/auth.py",  # builds the principal from a key
        "api/access/endpoints.py",  # /v1/me shows the principal back to itself
    }
    for package in ("api", "projections", "ledger"):
        for path in (ROOT / package).rglob("*.py"):
            name = str(path.relative_to(ROOT))
            if name in allowed:
                continue
            assert not SCOPE_DECISIONS.search(path.read_text()), f"a scope decision in {name}"
