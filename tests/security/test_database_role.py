"""The application role, used as an attacker would: it cannot switch the log's protection off,
change or remove what was recorded, forge a position, or hide a row from verification."""

from __future__ import annotations

import base64
import subprocess

import orjson
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from api.processes import CLI
from tests.security.conftest import Deployment

REFUSED = (
    psycopg.errors.InsufficientPrivilege,
    psycopg.errors.RaiseException,
    psycopg.errors.ObjectNotInPrerequisiteState,  # a position asked before any was given
)

MUST_NOT = [
    # the log and its chain
    "UPDATE public.ledger_events SET topic = topic",
    "DELETE FROM public.ledger_events",
    "TRUNCATE public.ledger_events",
    "UPDATE public.event_chain SET chain = chain",
    "DELETE FROM public.event_chain",
    "TRUNCATE public.event_chain",
    # the read trail and the signed checkpoints
    "UPDATE public.read_trail SET principal = 'nobody'",
    "DELETE FROM public.read_trail",
    "TRUNCATE public.read_trail",
    "UPDATE public.audit_checkpoints SET chain = chain",
    "DELETE FROM public.audit_checkpoints",
    "TRUNCATE public.audit_checkpoints",
    # objects where the log lives, new schemas, and the triggers
    "CREATE TABLE public.shadow (x int)",
    "CREATE FUNCTION public.pg_has_role(name, name, text) RETURNS boolean "
    "LANGUAGE sql AS 'SELECT true'",
    "CREATE SCHEMA elsewhere",
    "ALTER TABLE public.ledger_events DISABLE TRIGGER ALL",
    "DROP TRIGGER ledger_events_append_only ON public.ledger_events",
    "CREATE TRIGGER sneaky BEFORE INSERT ON public.ledger_events "
    "FOR EACH ROW EXECUTE FUNCTION public.cpf_refuse_change()",
    "ALTER FUNCTION public.cpf_refuse_change() RESET search_path",
]


@pytest.mark.parametrize("statement", MUST_NOT, ids=lambda s: " ".join(s.split()[:3]))
def test_the_role_is_refused(deployment: Deployment, statement: str) -> None:
    with deployment.as_role() as conn, pytest.raises(REFUSED):
        conn.execute(statement)


def test_a_function_of_the_roles_own_cannot_stand_in_for_the_triggers(
    deployment: Deployment,
) -> None:
    with deployment.as_role() as conn:
        # Its own schema is the one place it may create: a fake pg_has_role, first on its path.
        conn.execute(
            f'CREATE OR REPLACE FUNCTION "{deployment.role}".pg_has_role(name, name, text) '
            "RETURNS boolean LANGUAGE sql AS 'SELECT true'"
        )
        conn.execute(f'SET search_path = "{deployment.role}", public, pg_catalog')
        conn.execute(
            "CREATE OR REPLACE FUNCTION pg_temp.pg_has_role(name, name, text) "
            "RETURNS boolean LANGUAGE sql AS 'SELECT true'"
        )
        with pytest.raises(REFUSED):
            conn.execute("UPDATE ledger_events SET topic = topic")
        with pytest.raises(REFUSED):
            conn.execute("DELETE FROM event_chain")
        conn.execute(f'DROP FUNCTION "{deployment.role}".pg_has_role(name, name, text)')


def test_the_role_still_appends(deployment: Deployment) -> None:
    with deployment.client("operator") as op:
        written = op.post(
            f"/v1/agents/{deployment.agents['in_scope']}/inaptitude-credits", json={"hours": 1}
        )
    assert written.status_code == 201 and written.json()["position"] > 0


def test_an_event_at_a_position_the_sequence_did_not_give_is_refused(
    deployment: Deployment,
) -> None:
    with deployment.as_role() as conn:
        row = conn.execute(
            "SELECT originator_id, originator_version, topic, state FROM public.ledger_events "
            "ORDER BY notification_id DESC LIMIT 1"
        ).fetchone()
        assert row is not None
        originator, version, topic, state = row
        taken = conn.execute("SELECT MAX(notification_id) FROM public.ledger_events").fetchone()
        assert taken is not None
        insert = (
            "INSERT INTO public.ledger_events "
            "(notification_id, originator_id, originator_version, topic, state) "
            "VALUES (%s, %s, %s, %s, %s)"
        )
        for forged in (-7, 10**12):  # before the role drew any position
            with pytest.raises(REFUSED):
                conn.execute(insert, (forged, originator, version + 1, topic, state))
    with deployment.as_role() as conn:
        drawn = conn.execute(
            "SELECT nextval(pg_get_serial_sequence('public.ledger_events', 'notification_id'))"
        ).fetchone()
        assert drawn is not None
        # Beyond what it drew, or back among the positions already taken: refused.
        for forged in (drawn[0] + 1, taken[0], 1):
            with pytest.raises(REFUSED):
                conn.execute(insert, (forged, originator, version + 1, topic, state))


def _verify(deployment: Deployment) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "audit", "verify"],
        env=deployment.owner_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _check(deployment: Deployment) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "projections", "check", "balances"],
        env=deployment.stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_row_is_accounted_for_by_verification_and_check(
    postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A row written around the chain (at a position outside its range, or one the role took
    from the sequence) is found by `audit verify`, and `projections check` compares the views with
    the agents themselves, so a forged credit shows there too."""
    from tests.security.conftest import deploy

    deployments = deploy(postgres_server, tmp_path_factory.mktemp("forged"))
    deployment = next(deployments)
    try:
        assert _verify(deployment).returncode == 0
        with deployment.as_owner() as conn:  # a DBA gone rogue, with the trigger off
            originator, version, state = conn.execute(
                "SELECT e.originator_id, e.originator_version, e.state FROM public.ledger_events e "
                "WHERE e.topic = 'ledger.agent:Agent.Registered' "
                "ORDER BY e.originator_version DESC LIMIT 1"
            ).fetchone()  # type: ignore[misc]
            agent_version = conn.execute(
                "SELECT MAX(originator_version) FROM public.ledger_events WHERE originator_id = %s",
                (originator,),
            ).fetchone()[0]  # type: ignore[index]
            forged = (
                b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-01-01T00:00:00+00:00"},'
                b'"effective_date":{"_type_":"date_iso","_data_":"2025-01-01"},'
                b'"provenance":{"principal":"x","channel":"api","source":null,'
                b'"idempotency_key":null,"fingerprint":null},"hours":150}'
            )
            conn.execute("ALTER TABLE public.ledger_events DISABLE TRIGGER cpf_assigned_position")
            conn.execute(
                "INSERT INTO public.ledger_events "
                "(notification_id, originator_id, originator_version, topic, state) "
                "VALUES (-7, %s, %s, 'ledger.agent:Agent.InaptitudeCredited', %s)",
                (originator, agent_version + 1, forged),
            )
        verified = _verify(deployment)
        assert verified.returncode == 1 and "outside_chain" in verified.stdout
        checked = _check(deployment)
        assert checked.returncode == 1 and "differs_from_write_model" in checked.stdout, (
            checked.stderr[-3000:]
        )
        assert version >= 1 and state
        with deployment.as_role() as conn:  # the service role rewrites an agent's folded state
            agent_id, folded = conn.execute(
                "SELECT agent_id, state FROM public.agent_state LIMIT 1"
            ).fetchone()  # type: ignore[misc]
            inflated = orjson.loads(folded)
            inflated["balance"] += 500
            conn.execute(
                "UPDATE public.agent_state SET state = %s WHERE agent_id = %s",
                (orjson.dumps(inflated), agent_id),
            )
        checked = _check(deployment)
        assert checked.returncode == 1 and "state_differs_from_events" in checked.stdout, (
            checked.stdout[-3000:]
        )
    finally:
        next(deployments, None)


def test_the_role_taking_a_position_without_a_chain_row_is_found(
    postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from tests.security.conftest import deploy

    deployments = deploy(postgres_server, tmp_path_factory.mktemp("unchained"), seed=False)
    deployment = next(deployments)
    try:
        with deployment.as_role() as conn:
            originator, version, topic, state = conn.execute(
                "SELECT originator_id, originator_version, topic, state FROM public.ledger_events "
                "ORDER BY notification_id DESC LIMIT 1"
            ).fetchone()  # type: ignore[misc]
            position = conn.execute(
                "SELECT nextval(pg_get_serial_sequence('public.ledger_events', 'notification_id'))"
            ).fetchone()[0]  # type: ignore[index]
            conn.execute(
                "INSERT INTO public.ledger_events "
                "(notification_id, originator_id, originator_version, topic, state) "
                "VALUES (%s, %s, %s, %s, %s)",
                (position, originator, version + 1, topic, state),
            )
        verified = _verify(deployment)
        assert verified.returncode == 1 and "inserted" in verified.stdout
    finally:
        next(deployments, None)


def test_a_checkpoint_signed_by_another_key_is_not_trusted(deployment: Deployment) -> None:
    with deployment.client("auditor") as auditor:
        taken = auditor.post("/v1/audit/checkpoints").json()
        forger = Ed25519PrivateKey.generate()
        public = base64.b64encode(
            forger.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        ).decode()
        payload = (
            f'{{"chain":"{taken["chain"]}","created_at":"2099-01-01T00:00:00+00:00",'
            f'"position":{taken["position"]},"public_key":"{public}"}}'
        ).encode()
        signature = base64.b64encode(forger.sign(payload)).decode()
        with deployment.as_role() as conn:  # the role may append a checkpoint, signed its way
            conn.execute(
                "INSERT INTO public.audit_checkpoints VALUES (%s, %s, %s, %s, %s)",
                (taken["position"], taken["chain"], "2099-01-01T00:00:00+00:00", public, signature),
            )
        verification = auditor.get("/v1/audit/verification").json()
    problems = {c["created_at"]: c["problem"] for c in verification["checkpoints"]}
    assert problems[taken["created_at"]] is None
    assert problems["2099-01-01T00:00:00+00:00"] == "signed by another key than the trusted one"
    assert verification["ok"] is False
