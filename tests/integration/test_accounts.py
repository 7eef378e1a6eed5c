"""People's accounts on each store: activation, the password policy, the second factor, back-off
after failures, sessions and their expiry, and the account's life cycle."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pyotp
import pytest
from pydantic import SecretStr

from api.bootstrap import Services, bootstrap
from ledger.accounts_service import EnrolmentRequired, InvalidSecondFactor
from ledger.domain.access import Profile, Role
from ledger.domain.accounts import (
    AccountConflict,
    EmailAlreadyUsed,
    InvalidActivation,
    InvalidCredentials,
    TooManyAttempts,
    WeakPassword,
)
from ledger.store.settings import Settings
from tests.factories import make_siret
from tests.people import PASSWORD, SETUP, Clock, activated, cheap

SIRET = make_siret(31)
HOME = "192.0.2.10"


@pytest.fixture
def svc(settings: Settings) -> Iterator[Services]:
    services = bootstrap(cheap(settings))
    services.accounts.clock = Clock()
    services.access.register_establishment(SIRET, "Mairie", SETUP)
    try:
        yield services
    finally:
        services.close()


def clock_of(svc: Services) -> Clock:
    clock = svc.accounts.clock
    assert isinstance(clock, Clock)
    return clock


def kinds(svc: Services, user_id: str) -> list[str]:
    account = svc.accounts.account(user_id)
    return [type(e).__name__ for e in svc.ledger.events.get(account.id)]


# ------------------------------------------------------------------- activation


def test_an_activation_code_works_once_and_not_after_it_expires(svc: Services) -> None:
    enabled = svc.accounts.create(
        Role.EMPLOYER, "Léa", "lea@mairie.fr", SETUP, siret=SIRET, profile=Profile.GESTION
    )
    code = enabled.activation.code
    assert code and enabled.activation.sent_to is None  # no SMTP server: shown once
    with pytest.raises(InvalidActivation):
        svc.accounts.start_activation("lea@mairie.fr", "AAAA-BBBB-CCCC-DDDD-EEEE")
    with pytest.raises(EnrolmentRequired):
        svc.accounts.activate("lea@mairie.fr", code, PASSWORD, "123456")
    secret = svc.accounts.start_activation("LEA@mairie.fr ", code).secret
    now = clock_of(svc).now
    svc.accounts.activate("lea@mairie.fr", code, PASSWORD, pyotp.TOTP(secret).at(now))
    assert svc.accounts.account(enabled.account.user_id).status == "active"
    with pytest.raises(InvalidActivation):  # used
        svc.accounts.start_activation("lea@mairie.fr", code)

    late = svc.accounts.create(Role.AUDITOR, "Paul", "paul@cdc.fr", SETUP)
    assert late.activation.code is not None
    clock_of(svc).advance(hours=svc.settings.activation_hours, seconds=1)
    with pytest.raises(InvalidActivation):  # expired
        svc.accounts.start_activation("paul@cdc.fr", late.activation.code)
    fresh = svc.accounts.issue_activation(late.account.user_id, SETUP)
    assert fresh.code is not None
    with pytest.raises(InvalidActivation):  # the earlier code stopped working
        svc.accounts.start_activation("paul@cdc.fr", late.activation.code)
    svc.accounts.start_activation("paul@cdc.fr", fresh.code)
    assert "Activated" in kinds(svc, enabled.account.user_id)


def test_the_password_policy_is_a_length_and_a_common_password_list(svc: Services) -> None:
    enabled = svc.accounts.create(Role.OPERATOR, "Zoé", "zoe@cdc.fr", SETUP)
    code = enabled.activation.code
    assert code is not None
    secret = svc.accounts.start_activation("zoe@cdc.fr", code).secret
    totp = pyotp.TOTP(secret).at(clock_of(svc).now)
    for weak in ("court", "password1234", "QwertyQwerty", "1q2w3e4r5t6y", "x" * 300):
        with pytest.raises(WeakPassword):
            svc.accounts.activate("zoe@cdc.fr", code, weak, totp)
    with pytest.raises(InvalidSecondFactor):
        svc.accounts.activate("zoe@cdc.fr", code, PASSWORD, "000000")
    svc.accounts.activate("zoe@cdc.fr", code, "douze caractères simples", totp)


def test_an_email_address_signs_in_to_one_account(svc: Services) -> None:
    svc.accounts.create(Role.OPERATOR, "A", "a@cdc.fr", SETUP)
    with pytest.raises(EmailAlreadyUsed):
        svc.accounts.create(
            Role.EMPLOYER, "A", "A@CDC.fr", SETUP, siret=SIRET, profile=Profile.GESTION
        )


# ------------------------------------------------------------- second factor


def test_a_wrong_or_replayed_second_factor_is_refused(svc: Services) -> None:
    person = activated(svc.accounts, "op@cdc.fr")
    now = clock_of(svc).now
    with pytest.raises(InvalidCredentials):  # the activation used this step
        svc.accounts.login(person.email, PASSWORD, person.code(now), HOME)
    with pytest.raises(InvalidCredentials):
        svc.accounts.login(person.email, PASSWORD, "000000", HOME)
    svc.accounts.login(person.email, PASSWORD, person.code(now, steps_later=1), HOME)
    with pytest.raises(InvalidCredentials):  # the same code, within its window
        svc.accounts.login(person.email, PASSWORD, person.code(now, steps_later=1), HOME)
    clock_of(svc).advance(seconds=90)
    svc.accounts.login(person.email, PASSWORD, person.code(clock_of(svc).now), HOME)


def test_a_recovery_code_replaces_the_second_factor_once(svc: Services) -> None:
    person = activated(svc.accounts, "op@cdc.fr")
    code = person.recovery_codes[3]
    svc.accounts.login(person.email, PASSWORD, code.lower(), HOME)
    with pytest.raises(InvalidCredentials):
        svc.accounts.login(person.email, PASSWORD, code, HOME)
    assert "RecoveryCodeUsed" in kinds(svc, person.user_id)


# ---------------------------------------------------------------- back-off


def test_repeated_failures_lock_the_account_then_the_lock_ends(svc: Services) -> None:
    person = activated(svc.accounts, "op@cdc.fr")
    clock = clock_of(svc)
    limit = svc.settings.login_max_failures
    for _ in range(limit - 1):
        with pytest.raises(InvalidCredentials):
            svc.accounts.login(person.email, "wrong password!", person.code(clock.now, 1), HOME)
    with pytest.raises(TooManyAttempts) as locked:
        svc.accounts.login(person.email, "wrong password!", person.code(clock.now, 1), HOME)
    assert locked.value.details["retry"] == svc.settings.login_lockout_seconds
    with pytest.raises(TooManyAttempts):  # even with the right password
        svc.accounts.login(person.email, PASSWORD, person.code(clock.now, 1), HOME)
    clock.advance(seconds=svc.settings.login_lockout_seconds + 1)
    svc.accounts.login(person.email, PASSWORD, person.code(clock.now), HOME)
    history = kinds(svc, person.user_id)
    assert history.count("LoginFailed") == limit and history.count("LockedOut") == 1
    assert history[-1] == "LoggedIn"


def test_a_second_lockout_in_a_row_lasts_twice_as_long(svc: Services) -> None:
    person = activated(svc.accounts, "op@cdc.fr")
    clock, base = clock_of(svc), svc.settings.login_lockout_seconds
    for round_ in (1, 2):
        with pytest.raises(TooManyAttempts) as locked:
            for _ in range(svc.settings.login_max_failures):
                with pytest.raises(InvalidCredentials):
                    svc.accounts.login(person.email, "nope nope nope", "123456", HOME)
        assert locked.value.details["retry"] == base * round_
        clock.advance(seconds=base * round_ + 1)


def test_failures_from_one_address_lock_that_address_whatever_the_accounts(
    svc: Services,
) -> None:
    clock = clock_of(svc)
    limit = svc.settings.login_address_max_failures
    person = activated(svc.accounts, "op@cdc.fr")
    with pytest.raises(TooManyAttempts):
        for n in range(limit):
            with pytest.raises(InvalidCredentials):
                svc.accounts.login(f"nobody{n}@example.org", "guess guess guess", "123456", HOME)
    with pytest.raises(TooManyAttempts):
        svc.accounts.login(person.email, PASSWORD, person.code(clock.now, 1), HOME)
    svc.accounts.login(person.email, PASSWORD, person.code(clock.now, 1), "198.51.100.7")


# ---------------------------------------------------------------- sessions


def test_a_session_ends_when_idle_and_at_its_absolute_expiry(svc: Services) -> None:
    person = activated(svc.accounts, "op@cdc.fr")
    clock = clock_of(svc)
    idle = timedelta(minutes=svc.settings.session_idle_minutes)
    session = svc.accounts.login(person.email, PASSWORD, person.code(clock.now, 1), HOME)
    clock.now += idle - timedelta(seconds=1)
    assert svc.accounts.session(session.session_id) is not None  # used: idle restarts
    clock.now += idle - timedelta(seconds=1)
    assert svc.accounts.session(session.session_id) is not None
    clock.now += idle
    assert svc.accounts.session(session.session_id) is None  # idle too long
    assert svc.accounts.session(session.session_id) is None

    busy = svc.accounts.login(person.email, PASSWORD, person.code(clock.now), HOME)
    end = clock.now + timedelta(hours=svc.settings.session_absolute_hours)
    while clock.now + idle / 2 < end:
        clock.now += idle / 2
        assert svc.accounts.session(busy.session_id) is not None
    clock.now = end
    assert svc.accounts.session(busy.session_id) is None  # however active


def test_login_rotates_the_session_and_logout_ends_it(svc: Services) -> None:
    person = activated(svc.accounts, "op@cdc.fr")
    now = clock_of(svc).now
    first = svc.accounts.login(person.email, PASSWORD, person.code(now, 1), HOME)
    clock_of(svc).advance(seconds=60)
    second = svc.accounts.login(
        person.email, PASSWORD, person.code(clock_of(svc).now), HOME, replacing=first.session_id
    )
    assert svc.accounts.session(first.session_id) is None
    assert svc.accounts.session(second.session_id) is not None
    svc.accounts.logout(second.session_id)
    assert svc.accounts.session(second.session_id) is None
    assert kinds(svc, person.user_id)[-1] == "LoggedOut"


def test_deactivation_reset_and_removal_end_the_sessions_at_once(svc: Services) -> None:
    person = activated(
        svc.accounts, "rh@mairie.fr", Role.EMPLOYER, siret=SIRET, profile=Profile.GESTION
    )
    clock = clock_of(svc)
    session = svc.accounts.login(person.email, PASSWORD, person.code(clock.now, 1), HOME)
    svc.accounts.deactivate(person.user_id, SETUP)
    assert svc.accounts.session(session.session_id) is None
    with pytest.raises(InvalidCredentials):
        svc.accounts.login(person.email, PASSWORD, person.code(clock.now, 2), HOME)
    with pytest.raises(AccountConflict):
        svc.accounts.deactivate(person.user_id, SETUP)
    svc.accounts.reactivate(person.user_id, SETUP)
    clock.advance(seconds=60)
    session = svc.accounts.login(person.email, PASSWORD, person.code(clock.now), HOME)

    activation = svc.accounts.reset(person.user_id, SETUP)
    assert activation.code is not None
    assert svc.accounts.session(session.session_id) is None
    clock.advance(seconds=60)
    with pytest.raises(InvalidCredentials):  # password and second factor forgotten
        svc.accounts.login(person.email, PASSWORD, person.code(clock.now), HOME)
    secret = svc.accounts.start_activation(person.email, activation.code).secret
    svc.accounts.activate(person.email, activation.code, PASSWORD, pyotp.TOTP(secret).at(clock.now))
    session = svc.accounts.login(
        person.email, PASSWORD, pyotp.TOTP(secret).at(clock.now + timedelta(seconds=30)), HOME
    )

    svc.accounts.remove_user(SIRET, person.user_id, SETUP)
    assert svc.accounts.session(session.session_id) is None
    assert svc.accounts.account(person.user_id).status == "removed"
    assert svc.access.establishment(SIRET).profile_of(person.user_id) is None
    history = kinds(svc, person.user_id)
    for kind in ("Deactivated", "Reactivated", "Reset", "Activated", "LoggedIn", "LoginFailed"):
        assert kind in history
    # The address of a removed account may be given to a new one.
    again = svc.accounts.create(
        Role.EMPLOYER, "RH", person.email, SETUP, siret=SIRET, profile=Profile.CONSULTATION
    )
    assert again.account.user_id != person.user_id


def test_a_person_changes_the_password_and_renews_the_second_factor(svc: Services) -> None:
    person = activated(svc.accounts, "op@cdc.fr")
    clock = clock_of(svc)
    here = svc.accounts.login(person.email, PASSWORD, person.code(clock.now, 1), HOME)
    clock.advance(seconds=60)
    elsewhere = svc.accounts.login(person.email, PASSWORD, person.code(clock.now), HOME)
    with pytest.raises(InvalidCredentials):
        svc.accounts.change_password(
            person.user_id, "not the password", "a new long passphrase", None
        )
    with pytest.raises(WeakPassword):
        svc.accounts.change_password(person.user_id, PASSWORD, "password1234", None)
    svc.accounts.change_password(person.user_id, PASSWORD, "a new long passphrase", here.session_id)
    assert svc.accounts.session(here.session_id) is not None
    assert svc.accounts.session(elsewhere.session_id) is None

    new = svc.accounts.start_renewal(person.user_id, "a new long passphrase")
    clock.advance(seconds=120)
    with pytest.raises(InvalidSecondFactor):  # a code of the old factor does not confirm
        svc.accounts.renew_second_factor(
            person.user_id, "a new long passphrase", person.code(clock.now)
        )
    codes = svc.accounts.renew_second_factor(
        person.user_id, "a new long passphrase", pyotp.TOTP(new.secret).at(clock.now)
    )
    assert len(codes) == 10 and not set(codes) & set(person.recovery_codes)
    clock.advance(seconds=60)
    with pytest.raises(InvalidCredentials):  # the old factor stopped working
        svc.accounts.login(person.email, "a new long passphrase", person.code(clock.now), HOME)
    svc.accounts.login(
        person.email, "a new long passphrase", pyotp.TOTP(new.secret).at(clock.now), HOME
    )
    history = kinds(svc, person.user_id)
    assert "PasswordChanged" in history and "SecondFactorRenewed" in history


def test_second_factor_secrets_are_sealed_at_rest_with_the_identity_keys(
    settings: Settings,
) -> None:
    keyed = cheap(settings, identity_keys=SecretStr("k1:" + "ab" * 32))
    services = bootstrap(keyed)
    try:
        services.accounts.clock = clock = Clock()
        person = activated(services.accounts, "op@cdc.fr")
        with services.projector.store.transaction(write=False) as cur:
            kept = cur.execute("SELECT totp_secret FROM account_credentials").fetchall()
        assert kept and all(row[0].startswith("sealed:k1:") for row in kept)
        assert person.secret not in str(kept)
        session = services.accounts.login(person.email, PASSWORD, person.code(clock.now, 1), HOME)
        assert services.accounts.session(session.session_id) is not None
    finally:
        services.close()
