"""The demo logins `make run` prints: a newcomer signs in at once with what is printed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.bootstrap import Services, bootstrap
from api.cli import app as cli
from ledger.domain.access import Profile, Role
from ledger.files.demo import demo_siret
from ledger.files.demo_logins import PASSWORD, create_demo_logins, current_code, demo_logins
from ledger.store.settings import Settings
from tests.people import SETUP, cheap


@pytest.fixture
def svc(settings: Settings) -> Iterator[Services]:
    services = bootstrap(cheap(settings))
    services.access.register_establishment(demo_siret(1), "Établissement 1", SETUP)
    try:
        yield services
    finally:
        services.close()


def test_the_printed_demo_logins_sign_in_at_once(svc: Services) -> None:
    made = create_demo_logins(svc.accounts, demo_siret(1))
    assert {login.role for login in made} == {Role.EMPLOYER, Role.OPERATOR, Role.AUDITOR}
    assert create_demo_logins(svc.accounts, demo_siret(1)) == []  # once
    for login in demo_logins(demo_siret(1)):
        session = svc.accounts.login(login.email, PASSWORD, current_code(), "127.0.0.1")
        assert svc.accounts.session(session.session_id) is not None
    admin = svc.accounts.account_by_email(demo_logins(demo_siret(1))[0].email)
    assert admin is not None and svc.accounts.profile_of(admin) is Profile.ADMINISTRATION


def test_demo_login_prints_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the embedded store the command line uses by default."""
    monkeypatch.delenv("LEDGER_DATABASE_URL", raising=False)
    monkeypatch.setenv("LEDGER_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LEDGER_ARGON2_MEMORY_KIB", "1024")
    from api.cli import common

    common.services.cache_clear()
    runner = CliRunner()
    try:
        loaded = runner.invoke(cli, ["demo", "load", "--agents", "10", "--establishments", "2"])
        assert loaded.exit_code == 0, loaded.output
        printed = runner.invoke(cli, ["demo", "login"])
    finally:
        common.services().close()
        common.services.cache_clear()
    assert printed.exit_code == 0
    assert "rh@etablissement-1.demo.invalid" in printed.output and PASSWORD in printed.output
