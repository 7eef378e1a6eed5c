"""The service's PostgreSQL role appends events but cannot change or remove them."""

from __future__ import annotations

import uuid
from datetime import date

import psycopg
import pytest

from ledger.application import Ledger
from ledger.domain.provenance import Channel, Provenance
from ledger.store.roles import create_app_role
from ledger.store.settings import Settings
from tests.commands import register_agent
from tests.factories import make_nir

pytestmark = pytest.mark.postgres


def test_the_application_role_is_refused_updates_deletes_and_truncates(
    postgres_url: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    owner = Ledger(Settings(database_url=postgres_url, data_dir=tmp_path, id_key="k" * 40))
    register_agent(
        owner, make_nir(1), "Nom", "Prénom", date(1980, 1, 1), Provenance("owner", Channel.CLI)
    )
    owner.close()
    role = f"cpf_app_{uuid.uuid4().hex[:8]}"
    create_app_role(postgres_url, role, None, "ledger_events")
    app_url = postgres_url.replace("postgres@", f"{role}@")
    try:
        service = Ledger(
            Settings(database_url=app_url, data_dir=tmp_path, id_key="k" * 40, create_tables=False)
        )
        receipt = register_agent(
            service,
            make_nir(2),
            "Nom",
            "Prénom",
            date(1980, 1, 1),
            Provenance("service", Channel.API),
        )
        assert receipt.position == 2  # the role appends (and takes the store's lock)
        service.close()
        with psycopg.connect(app_url, autocommit=True) as conn:
            for statement in (
                "UPDATE ledger_events SET topic = 'x'",
                "DELETE FROM ledger_events",
                "TRUNCATE ledger_events",
                "UPDATE event_chain SET chain = digest",
                "DELETE FROM event_chain",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
            assert conn.execute("SELECT COUNT(*) FROM ledger_events").fetchone() == (2,)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'REASSIGN OWNED BY "{role}" TO postgres')
            conn.execute(f'DROP OWNED BY "{role}"')
        with psycopg.connect(postgres_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as c:
            c.execute(f'DROP ROLE IF EXISTS "{role}"')
