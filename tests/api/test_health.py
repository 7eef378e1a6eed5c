from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient

from api.app import create_app
from ledger.domain.provenance import Channel, Provenance
from ledger.store.settings import Settings
from tests.commands import record_line, register_agent
from tests.factories import make_nir


def test_healthz_and_openapi_are_served(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        schema = client.get("/openapi.json").json()
        assert "/healthz" in schema["paths"]
        assert client.get("/docs").status_code == 200


def test_embedded_projector_shows_a_write_in_the_views_within_a_second(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, id_key="k" * 40)  # no database URL: embedded SQLite
    assert settings.runs_projector_in_process
    with TestClient(create_app(settings)) as client:
        svc = client.app.state.services  # type: ignore[attr-defined]
        ledger, projector = svc.ledger, svc.projector
        receipt = register_agent(
            ledger, make_nir(1), "Dupont", "Jean", date(1980, 1, 1), Provenance("test", Channel.API)
        )
        record_line(
            ledger, receipt.agent_id, 2021, "21750001600019", 1607, Provenance("test", Channel.API)
        )
        assert projector.wait_for(ledger.recorder.max_notification_id(), timeout=1.0)
        with projector.store.transaction(write=False) as cur:
            row = cur.execute(
                "SELECT balance FROM balances WHERE agent_id = %s", (receipt.agent_id.hex,)
            ).fetchone()
        assert row == (25,)
