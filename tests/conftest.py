"""Fixtures shared by all tests: the two stores (SQLite, PostgreSQL) and a ledger on each.

PostgreSQL tests create their own database and drop it. When the server cannot be reached they
are skipped, except in CI (``CI=true``) where they fail: they are required there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ledger.application import Ledger
from ledger.store.settings import Settings

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _postgres_reachable() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.OperationalError as exc:
        return str(exc)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    problem = _postgres_reachable()
    if problem:
        if IN_CI:
            pytest.fail(
                f"PostgreSQL is required in CI and unreachable at {PG_ADMIN_URL}: {problem}"
            )
        pytest.skip(f"PostgreSQL unreachable: {problem}")
    return PG_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh PostgreSQL database, dropped after the test."""
    name = f"cpf_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = postgres_server.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def store_settings(tmp_path: Path, database_url: str | None) -> Settings:
    """Settings for a fresh store in ``tmp_path`` (SQLite when ``database_url`` is None)."""
    return Settings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        id_key="k" * 40,
        environment="development",
    )


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for a fresh store of each kind."""
    database_url = None
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        database_url = request.getfixturevalue("postgres_url")
    return store_settings(tmp_path, database_url)


@pytest.fixture
def postgres_settings(postgres_url: str, tmp_path: Path) -> Settings:
    """Settings for a fresh PostgreSQL store, for what only PostgreSQL does."""
    return store_settings(tmp_path, postgres_url)


def open_ledger(settings: Settings) -> Iterator[Ledger]:
    """A ledger on ``settings``, closed after the test."""
    app = Ledger(settings)
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def postgres_ledger(postgres_settings: Settings) -> Iterator[Ledger]:
    yield from open_ledger(postgres_settings)


@pytest.fixture
def ledger(settings: Settings) -> Iterator[Ledger]:
    yield from open_ledger(settings)
