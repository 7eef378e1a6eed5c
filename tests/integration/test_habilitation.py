"""A habilitation file interrupted half-way and deposited again finishes the rest, once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.bootstrap import Services, bootstrap
from ledger.domain.provenance import Channel, Provenance
from ledger.files.habilitation import deposit_users
from ledger.store.settings import Settings
from tests.factories import make_siret
from tests.people import SETUP, cheap

SIRET = make_siret(61)
DEPOSITOR = Provenance("employer:test", Channel.API)


@pytest.fixture
def svc(settings: Settings) -> Iterator[Services]:
    services = bootstrap(cheap(settings))
    services.access.register_establishment(SIRET, "Mairie", SETUP)
    try:
        yield services
    finally:
        services.close()


def test_an_interrupted_deposit_finishes_the_rest_once(
    svc: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "habilitations.csv"
    path.write_text(
        "name;email;profile\n"
        + "".join(f"Personne {n};p{n}@mairie.fr;gestion\n" for n in range(1, 6)),
        encoding="utf-8",
    )
    create = svc.accounts.create
    calls = []

    def dying(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the process dies in the middle of the file
        return create(*args, **kwargs)

    monkeypatch.setattr(svc.accounts, "create", dying)
    with pytest.raises(KeyboardInterrupt):
        deposit_users(svc.accounts, path, path.name, DEPOSITOR, SIRET, SIRET, {SIRET})
    monkeypatch.setattr(svc.accounts, "create", create)

    done = deposit_users(svc.accounts, path, path.name, DEPOSITOR, SIRET, SIRET, {SIRET})
    report = done.report()
    assert [line["status"] for line in report] == ["applied"] * 5
    # The two people enabled before the interruption keep their first codes (shown then).
    assert [bool(line["activation"]) for line in report] == [False, False, True, True, True]
    assert len(svc.accounts.accounts_of(SIRET)) == 5
    again = deposit_users(svc.accounts, path, path.name, DEPOSITOR, SIRET, SIRET, {SIRET})
    assert again.file.id == done.file.id and again.activations == {}
