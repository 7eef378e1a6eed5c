"""Activation codes by e-mail, through a real SMTP server the test starts (aiosmtpd)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.domain.access import Role
from ledger.store.settings import Settings
from tests.factories import make_siret
from tests.people import SETUP, cheap

SIRET = make_siret(51)


class Inbox:
    """An SMTP handler keeping what it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def test_the_activation_code_goes_by_email_and_is_not_shown(
    settings: Settings, inbox: tuple[Inbox, int]
) -> None:
    handler, port = inbox
    mailing = cheap(
        settings,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        smtp_sender="cpf@cdc.example.org",
    )
    app = create_app(mailing)
    with TestClient(app) as client:
        svc = app.state.services
        svc.access.register_establishment(SIRET, "Mairie", SETUP)
        token, _ = svc.access.issue_key(Role.OPERATOR, "cdc", SETUP)
        created = client.post(
            "/v1/users",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "name": "Léa Petit",
                "email": "lea@mairie.fr",
                "siret": SIRET,
                "profile": "gestion",
            },
        )
        assert created.status_code == 201, created.text
        activation = created.json()["activation"]
        assert activation["code"] is None and activation["sent_to"] == "lea@mairie.fr"
        assert len(handler.messages) == 1
        message = handler.messages[0]
        assert message["To"] == "lea@mairie.fr" and message["From"] == "cpf@cdc.example.org"
        body = message.get_payload(decode=True).decode()
        code = next(
            line.split(":", 1)[1].strip()
            for line in body.splitlines()
            if "code d'activation" in line
        )
        enrol = client.post(
            "/v1/activations/enrolment", json={"email": "lea@mairie.fr", "code": code}
        )
        assert enrol.status_code == 200
        account = svc.accounts.account_by_email("lea@mairie.fr")
        kinds = [type(e).__name__ for e in svc.ledger.events.get(account.id)]
        assert "ActivationIssued" in kinds
        issued = [
            e for e in svc.ledger.events.get(account.id) if type(e).__name__ == "ActivationIssued"
        ]
        assert issued[0].delivery == "email"


def test_without_a_reachable_server_the_code_is_shown_once(settings: Settings) -> None:
    unreachable = cheap(settings, smtp_host="127.0.0.1", smtp_port=free_port(), smtp_starttls=False)
    app = create_app(unreachable)
    with TestClient(app):
        svc = app.state.services
        enabled = svc.accounts.create(Role.AUDITOR, "Paul", "paul@cdc.fr", SETUP)
        assert enabled.activation.code is not None and enabled.activation.sent_to is None
