from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from ledger.settings import Settings


def test_healthz_and_openapi_are_served(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        schema = client.get("/openapi.json").json()
        assert "/healthz" in schema["paths"]
        assert client.get("/docs").status_code == 200
