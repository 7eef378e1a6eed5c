"""Identities sealed at rest, readable with the configured keys, across a key rotation."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import SecretStr

from ledger.application import Ledger
from ledger.domain import errors
from ledger.domain.provenance import Channel, Provenance
from ledger.store.settings import Settings
from tests.commands import register_agent
from tests.factories import make_nir

OP = Provenance("operator:test", Channel.CLI)
OLD, NEW = "k2025:" + "11" * 32, "k2026:" + "22" * 32


def with_keys(settings: Settings, keys: str | None) -> Settings:
    return settings.model_copy(update={"identity_keys": SecretStr(keys) if keys else None})


def stored_states(ledger: Ledger) -> bytes:
    return b"".join(n.state for n in ledger.recorder.select_notifications(1, 1000))


def test_identity_is_sealed_and_survives_a_key_rotation(settings: Settings) -> None:
    before = Ledger(with_keys(settings, OLD))
    first = register_agent(before, make_nir(1), "Lefèvre", "Zoé", date(1980, 2, 3), OP).agent_id
    assert make_nir(1).encode() not in stored_states(before)
    assert b"Lef" not in stored_states(before)
    before.close()
    after = Ledger(with_keys(settings, f"{NEW},{OLD}"))  # the new key first, the old one kept
    try:
        second = register_agent(after, make_nir(2), "Roux", "Léo", date(1990, 4, 5), OP).agent_id
        assert after.identity(first).birth_name == "Lefèvre"
        assert after.identity(second).birth_date == date(1990, 4, 5)
        assert after.find_agent(make_nir(1), "LEFEVRE") == first
        states = [n.state for n in after.recorder.select_notifications(1, 10)]
        assert b'"key_id":"k2025"' in states[0] and b'"key_id":"k2026"' in states[1]
    finally:
        after.close()
    forgetful = Ledger(with_keys(settings, NEW))  # the old key dropped: its identities are shut
    try:
        with pytest.raises(errors.InvalidInput):
            forgetful.identity(first)
        assert forgetful.identity(second).first_name == "Léo"
    finally:
        forgetful.close()
