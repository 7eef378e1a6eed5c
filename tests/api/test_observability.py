"""Metrics and structured logs: what operators watch, and never a NIR."""

from __future__ import annotations

import logging

import orjson
import pytest

from api.observability import JsonFormatter
from tests.api.conftest import LAST_YEAR, OWN, World


def test_metrics_count_requests_events_and_lag(world: World) -> None:
    world.call(
        "own_gestion",
        "POST",
        "/v1/decrements",
        json={
            "nir": world.nir_a,
            "birth_name": "Martin",
            "siret": OWN,
            "hours": 1,
            "training": {
                "title": "T",
                "start": f"{LAST_YEAR + 1}-01-02",
                "end": f"{LAST_YEAR + 1}-01-02",
            },
        },
    )
    text = world.call("operator", "GET", "/metrics").text
    assert 'cpf_http_requests_total{method="POST",route="/v1/decrements",status="201"}' in text
    assert "cpf_events_appended_total" in text
    assert 'cpf_projector_lag_events{view="balances"}' in text


def test_access_log_lines_are_json_with_a_request_id_and_no_path(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cpf_ledger.access")
    response = world.call(
        "own_consultation",
        "GET",
        f"/v1/agents/{world.agent_a}/balance",
        headers={"X-Request-Id": "trace-42"},
    )
    assert response.headers["X-Request-Id"] == "trace-42"
    records = [r for r in caplog.records if r.name == "cpf_ledger.access"]
    line = orjson.loads(JsonFormatter().format(records[-1]))
    assert line["route"] == "/v1/agents/{agent_id}/balance" and line["status"] == 200
    assert line["request_id"] == "trace-42"
    assert world.agent_a not in str(line)
    assert line["principal"].startswith("employer:")
