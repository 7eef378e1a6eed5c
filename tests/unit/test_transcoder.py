"""The orjson transcoder writes exactly the library's bytes and reads them back the same: no
stored-format migration, and the audit chain's digests are unchanged."""

from __future__ import annotations

import uuid
from datetime import UTC, date, timedelta, timezone
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import JSONTranscoder
from hypothesis import given
from hypothesis import strategies as st

from ledger.application import Ledger
from ledger.domain.movements import MOVEMENT_EFFECTS
from ledger.domain.provenance import Channel, Provenance
from ledger.store.settings import Settings
from ledger.store.transcoder import OrjsonTranscoder
from tests.commands import cancel_decrement, decrement, record_line
from tests.factories import make_nir, make_siret


def transcoders() -> tuple[JSONTranscoder, OrjsonTranscoder]:
    """The library's transcoder and ours, with the ledger's transcodings registered on both."""
    ledger = Ledger.__new__(Ledger)
    library, ours = JSONTranscoder(), OrjsonTranscoder()
    ledger.register_transcodings(library)
    ledger.register_transcodings(ours)
    return library, ours


LIBRARY, OURS = transcoders()


def same_bytes(value: Any) -> None:
    try:
        expected = LIBRARY.encode(value)
    except Exception as refused:
        with pytest.raises(type(refused)):
            OURS.encode(value)
        return
    assert OURS.encode(value) == expected
    assert OURS.decode(expected) == LIBRARY.decode(expected)


class Colour(StrEnum):
    RED = "red"


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # beyond 64 bits too: the library's encoder takes over
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),  # control characters, quotes, backslashes, non-BMP characters
    st.decimals(allow_nan=False, allow_infinity=False),
    st.dates(),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=2))])),
    st.uuids(),
    st.just(Colour.RED),
    st.tuples(st.integers(0, 3)),
    st.frozensets(st.integers(0, 3), max_size=2),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=10), values, max_size=6))
def test_any_event_state_is_written_as_the_library_writes_it(state: dict[str, Any]) -> None:
    same_bytes(state)


def test_non_string_keys_and_odd_strings_fall_back_to_the_library() -> None:
    same_bytes({1: "a", "b": {2: 3}})
    same_bytes({"s": '\x00\x1f\x7f"\\\n\t\b\f\r\u2028\u2029 é 😀', "n": 2**70, "f": 1e16})
    same_bytes({"_type_": "decimal_str", "_data_": "1.5"})
    same_bytes({"x": {"_type_": "uuid_hex", "_data_": uuid.uuid4().hex}, "y": [date(2020, 1, 1)]})


def test_every_kind_of_stored_event_is_written_byte_for_byte(tmp_path: Path) -> None:
    """The events a busy ledger records (every aggregate, every movement) read back and written
    again by our transcoder give the stored bytes."""
    from tests.integration.test_projections import KINDS, populate

    ledger = Ledger(Settings(data_dir=tmp_path, id_key="k" * 40))
    try:
        kinds = [k for k in dict.fromkeys(KINDS) if k != "close"]
        moves = [(i % 4, kinds[i % len(kinds)], 7 * i + 3, i) for i in range(80)]
        ids = populate(ledger, 4, [*moves, (0, "close", 0, 1), (1, "close", 0, 0)])
        op = Provenance("operator:test", Channel.CLI)
        record_line(ledger, ids[3], 2021, make_siret(1), 1607, op)
        decrement(ledger, ids[3], make_siret(1), 3, date(2022, 1, 1), op, decrement_id="x")
        cancel_decrement(ledger, ids[3], "x", "cancelled", op)
        _access_events(ledger, tmp_path)
        stored = ledger.recorder.select_notifications(1, 10_000)
        topics = {n.topic.rpartition(":")[2] for n in stored}
        agent_kinds = {t.partition(".")[2] for t in topics if t.startswith("Agent.")}
        assert agent_kinds == set(MOVEMENT_EFFECTS), agent_kinds
        assert len(topics) >= 23, topics
        for notification in stored:
            state = LIBRARY.decode(notification.state)
            assert OURS.encode(state) == notification.state == LIBRARY.encode(state)
            assert OURS.decode(notification.state) == state
    finally:
        ledger.close()


def _access_events(ledger: Ledger, tmp_path: Path) -> None:
    """Establishments, users, delegations, keys, a regularisation request, files."""
    from ledger.access_service import AccessService
    from ledger.domain.access import Profile, Role
    from ledger.files.campaign import run_campaign, start_campaign
    from ledger.files.deposits import deposit_file

    op = Provenance("operator:test", Channel.CLI)
    access = AccessService(ledger)
    first, second = make_siret(1), make_siret(2)
    access.register_establishment(first, "Mairie", op)
    access.register_establishment(second, "Centre", op)
    user = access.grant_user(first, "RH", Profile.GESTION, op)
    access.change_delegation(first, second, "requested", op)
    access.change_delegation(first, second, "accepted", op)
    _, key_id = access.issue_key(Role.EMPLOYER, "RH", op, first, user)
    access.revoke_key(key_id, op)
    agent_id = ledger.agent_id(make_nir(1))
    attestation = {"signatory": "Mme Martin", "signature_date": "2024-03-01", "stamp_present": True}
    request = access.submit_regularisation(agent_id, first, 2021, 3, attestation, "oubli", op)
    access.decide_regularisation(request, False, "non", op)
    campaign = tmp_path / "campagne.csv"
    campaign.write_text(
        "nir;birth_name;first_name;birth_date;siret;year;hours_worked\n"
        f"{make_nir(50)};Nom;Prénom;1980-01-01;{first};2022;1607\n"
    )
    run = start_campaign(ledger, campaign, "campagne.csv", "operator:test")
    assert run is not None
    run_campaign(ledger, run, campaign, "operator:test")
    deposit = tmp_path / "decrements.csv"
    deposit.write_text(
        "nir;birth_name;first_name;birth_date;siret;hours;start;end;title;reference\n"
        f"{make_nir(50)};Nom;Prénom;1980-01-01;{first};2;2023-03-01;2023-03-02;Excel;R1\n"
    )
    deposit_file(ledger, deposit, "decrements.csv", "operator:test", "operator", None)


def test_provenance_is_stored_as_its_fields_in_order() -> None:
    from dataclasses import asdict

    provenance = Provenance("operator:x", Channel.API, "request:1", "key", "print")
    expected = asdict(provenance)
    expected["channel"] = "api"
    assert list(provenance.as_dict().items()) == list(expected.items())
    assert type(provenance.as_dict()["channel"]) is str
