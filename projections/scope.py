"""Who may see and do what: the one place that answers it.

Every read, list, export, extraction, look-up and write asks this module; nothing else compares
SIRETs or roles. The rules (DOMAIN.md's *who may see and do what*):

- operators and auditors read everything; operators write, auditors never do;
- an employer user acts for its SIRETs (its own, and those that accepted it as their
  centraliser) with a profile: consultation < gestion < administration;
- an employer sees an agent with an acquisition line for one of its SIRETs in year N−1 or N−2,
  or on whom one of its SIRETs recorded a movement; outside that, the agent does not exist for it
  (404, exactly like an unknown one).

Reads judge an agent's visibility on the views (``employer_index``); writes judge it on the
agent's own history (the write model), so they never depend on a view lagging behind.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from ledger.domain import errors
from ledger.domain.access import Principal, Profile, Role
from ledger.domain.agent import Agent
from projections.store import Cursor

NOT_FOUND = "no such agent"


def scope_years(today: date | None = None) -> tuple[int, int]:
    """The acquisition years that open an employer's view of an agent: N−1 and N−2."""
    year = (today or date.today()).year
    return year - 1, year - 2


# ------------------------------------------------------------------ roles


def reads_everything(principal: Principal) -> bool:
    """Operators and auditors read every agent, establishment and document."""
    return principal.role in (Role.OPERATOR, Role.AUDITOR)


def is_operator(principal: Principal) -> bool:
    return principal.role == Role.OPERATOR


def has_profile(principal: Principal, needed: Profile) -> bool:
    """An employer user's profile allows ``needed`` (consultation < gestion < administration)."""
    return principal.profile is not None and Profile(principal.profile).allows(needed)


def require_role(principal: Principal, *roles: Role) -> None:
    """403 unless the principal has one of ``roles``."""
    if principal.role not in roles:
        names = " or ".join(
            {"operator": "a CDC operator", "auditor": "an auditor", "employer": "an employer"}[r]
            for r in roles
        )
        raise errors.Forbidden(f"only {names} may do this")


def require_profile(principal: Principal, needed: Profile) -> None:
    """Writes: operators always; an employer user with at least ``needed``; auditors never."""
    if principal.role == Role.OPERATOR:
        return
    if principal.role != Role.EMPLOYER:
        raise errors.Forbidden("auditors read, they never write")
    if not has_profile(principal, needed):
        raise errors.Forbidden(f"this needs the {needed} profile")


# ------------------------------------------------------------------ SIRETs


def acts_for(principal: Principal, siret: str) -> bool:
    """Whether the principal acts for ``siret`` (operators and auditors for every SIRET)."""
    return reads_everything(principal) or siret in principal.sirets


def require_readable_siret(principal: Principal, siret: str) -> None:
    """Reads about a SIRET: one the principal acts for, else 404 as if it did not exist."""
    if not acts_for(principal, siret):
        raise errors.EstablishmentNotFound("no such establishment")


def require_writer_for(principal: Principal, siret: str | None) -> None:
    """A write naming ``siret`` (a decrement, a reserve, a request): the employer must act for it
    (403: the caller named the SIRET itself, so nothing is disclosed)."""
    require_profile(principal, Profile.GESTION)
    if siret is not None and principal.role == Role.EMPLOYER and siret not in principal.sirets:
        raise errors.Forbidden("this SIRET is not one you act for")


def require_administrator_of(principal: Principal, *sirets: str) -> None:
    """Managing an establishment's users, keys and delegations: operators, or an administrator of
    one of ``sirets`` itself (a centraliser does not manage its delegates' users). An
    establishment the employer does not act for answers 404."""
    if principal.role == Role.OPERATOR:
        return
    if principal.role != Role.EMPLOYER:
        raise errors.Forbidden("auditors read, they never write")
    if principal.siret not in sirets:
        if not any(s in principal.sirets for s in sirets):
            raise errors.EstablishmentNotFound("no such establishment")
        raise errors.Forbidden("only an administrator of this establishment may do this")
    if not has_profile(principal, Profile.ADMINISTRATION):
        raise errors.Forbidden("this needs the administration profile")


def require_key_issuer(principal: Principal, role: Role, siret: str | None) -> None:
    """Operators issue any key; an establishment's administrator issues keys to its own users
    only."""
    if is_operator(principal):
        return
    if role is not Role.EMPLOYER or siret is None:
        raise errors.Forbidden("an administrator issues keys to its establishment's users only")
    require_administrator_of(principal, siret)


def require_key_revoker(principal: Principal, key_id: str, key_siret: str | None) -> None:
    """A key is revoked by an operator, its holder, or its establishment's administrator; any
    other key looks unknown. Auditors change nothing, their own key included."""
    if is_operator(principal):
        return
    if principal.role == Role.AUDITOR:
        raise errors.Forbidden("auditors read, they never write")
    if key_id == principal.key_id:
        return
    if key_siret is None:
        raise errors.KeyNotFound("no such key")
    require_administrator_of(principal, key_siret)


def owns_document(principal: Principal, owner_siret: str) -> bool:
    """A deposited file belongs to the establishment that deposited it (operators and auditors
    read them all)."""
    return reads_everything(principal) or principal.siret == owner_siret


def deposit_owner(principal: Principal) -> tuple[str, set[str] | None]:
    """Who a deposited file belongs to (the depositor's establishment, or "operator") and the
    SIRETs its lines may name (None: any)."""
    if is_operator(principal):
        return "operator", None
    if principal.siret is None:
        raise errors.Forbidden("only operators and employers deposit files")
    return principal.siret, set(principal.sirets)


def delegation_centraliser(principal: Principal, named: str | None) -> str:
    """The centraliser a delegation request is for: an operator names it; an employer asks for
    its own establishment only."""
    if is_operator(principal):
        if named is None:
            raise errors.InvalidInput("an operator names the centraliser_siret")
        return named
    if principal.siret is None or named not in (None, principal.siret):
        raise errors.Forbidden("an employer asks for a delegation to its own SIRET only")
    return principal.siret


def readable_sirets(principal: Principal) -> list[str] | None:
    """The SIRETs whose documents (regularisation requests…) a list may show; None: all."""
    return None if reads_everything(principal) else sorted(principal.sirets)


# ---------------------------------------------------------- people's accounts


def require_account_manager(principal: Principal, role: Role, siret: str | None) -> None:
    """Enabling, deactivating, reactivating or resetting a person's account.

    Operators manage everyone's (CDC staff's only by them). An employer's account is managed by
    an administrator of its establishment, or of a centraliser that establishment accepted: the
    portal's principal administrator enables the people of the establishments it manages
    (seed 002). An establishment the caller does not act for answers 404."""
    if is_operator(principal):
        return
    if principal.role != Role.EMPLOYER:
        raise errors.Forbidden("auditors read, they never write")
    if role is not Role.EMPLOYER or siret is None:
        raise errors.Forbidden("only CDC operators enable CDC staff")
    if siret not in principal.sirets:
        raise errors.EstablishmentNotFound("no such establishment")
    if not has_profile(principal, Profile.ADMINISTRATION):
        raise errors.Forbidden("this needs the administration profile")


def require_account_reader(principal: Principal, role: Role, siret: str | None) -> None:
    """Reading a person's account (never a credential): operators and auditors, and whoever
    may manage it."""
    if not reads_everything(principal):
        require_account_manager(principal, role, siret)


def manageable_sirets(principal: Principal) -> set[str] | None:
    """The SIRETs whose people a habilitation file of this principal may enable (None: any)."""
    if is_operator(principal):
        return None
    require_profile(principal, Profile.ADMINISTRATION)
    return set(principal.sirets)


def habilitation_owner(principal: Principal) -> str:
    """Whom a deposited habilitation file belongs to: the depositor's establishment, or
    "operator"."""
    return "operator" if is_operator(principal) else str(principal.siret)


def is_person(principal: Principal) -> bool:
    """A person signed in with a session (not a key)."""
    return principal.session is not None


def require_person(principal: Principal) -> None:
    """What only a person does for themself: changing a password, renewing a second factor."""
    if not is_person(principal):
        raise errors.Forbidden("only a person signed in with a session does this")


# ------------------------------------------------------------ agents: reads


def agents_of(
    principal: Principal, sirets: Iterable[str], column: str = "agent_id"
) -> tuple[str, list[Any]]:
    """A SQL condition on ``column`` keeping the agents in the scope of ``sirets`` (acquisition
    line in N−1 or N−2, or a movement they recorded), among those the principal acts for."""
    allowed = sorted(s for s in set(sirets) if acts_for(principal, s))
    if not allowed:
        return "1 = 0", []
    marks = ", ".join(["%s"] * len(allowed))
    n1, n2 = scope_years()
    return (
        f"{column} IN (SELECT agent_id FROM employer_index WHERE siret IN ({marks}) "
        "AND year IN (%s, %s, 0))",
        [*allowed, n1, n2],
    )


def visible_agents(principal: Principal, column: str = "agent_id") -> tuple[str, list[Any]]:
    """A SQL condition on ``column`` keeping only the agents the principal may see (views)."""
    if reads_everything(principal):
        return "1 = 1", []
    return agents_of(principal, principal.sirets, column)


def is_visible(cur: Cursor, principal: Principal, agent_id: str) -> bool:
    """Whether the principal may see this agent, judged on the views."""
    condition, params = visible_agents(principal)
    row = cur.execute(
        f"SELECT 1 FROM balances WHERE agent_id = %s AND {condition}", (agent_id, *params)
    ).fetchone()
    return row is not None


def require_visible(cur: Cursor, principal: Principal, agent_id: str) -> None:
    """AgentNotFound unless the principal may see this agent (views)."""
    if not is_visible(cur, principal, agent_id):
        raise not_found()


def not_found() -> errors.AgentNotFound:
    """What a read answers for an agent out of scope: exactly what it answers for none."""
    return errors.AgentNotFound(NOT_FOUND)


# ----------------------------------------------------------- agents: writes


def sees_agent(principal: Principal, agent: Agent) -> bool:
    """Whether the principal may see this agent, judged on its own history (the write model)."""
    if reads_everything(principal):
        return True
    n1, n2 = scope_years()
    acquired = {
        siret for year in (n1, n2) for siret in agent.year_lines.get(year, {})
    } | agent.recorded_by
    return not acquired.isdisjoint(principal.sirets)


def agent_guard(principal: Principal) -> Any:
    """A check the ledger runs on the loaded agent before a command: out of scope is unknown."""

    def guard(agent: Agent) -> None:
        if not sees_agent(principal, agent):
            raise errors.AgentNotFound(NOT_FOUND)

    return guard


def cancellation_guard(principal: Principal, decrement_id: str) -> Any:
    """Cancelling a decrement: the agent in scope, and the decrement recorded by a SIRET the
    principal writes for."""
    in_scope = agent_guard(principal)

    def guard(agent: Agent) -> None:
        in_scope(agent)
        record = agent.decrements.get(decrement_id)
        if record is None:
            raise errors.DecrementNotFound("no such decrement on this agent")
        require_writer_for(principal, record.siret)

    return guard


# ------------------------------------------------------------- the console


@dataclass(frozen=True, slots=True)
class ConsoleAbilities:
    """What the web console offers a principal: its menu, its forms and its buttons. Only what
    is shown: every page and every form's route checks again with the functions above."""

    reads_everything: bool
    """Operators and auditors: any SIRET, any agent, the audit pages."""
    records: bool
    """Decrements, cancellations, regularisation requests (gestion and up, operators)."""
    administers: bool
    """Users, keys and delegations of an establishment (administration profile, operators)."""
    operates: bool
    """Campaigns, the regularisation queue, projections (operators)."""
    establishments: tuple[str, ...]
    """The SIRETs an employer switches between (its own first); empty: any (operators,
    auditors)."""

    @property
    def audits(self) -> bool:
        return self.reads_everything


def console_abilities(principal: Principal) -> ConsoleAbilities:
    """What the console shows ``principal`` (the same rules as the routes)."""
    everything = reads_everything(principal)
    own = [principal.siret] if principal.siret else []
    return ConsoleAbilities(
        reads_everything=everything,
        records=is_operator(principal) or has_profile(principal, Profile.GESTION),
        administers=is_operator(principal) or has_profile(principal, Profile.ADMINISTRATION),
        operates=is_operator(principal),
        establishments=()
        if everything
        else tuple(dict.fromkeys([*own, *sorted(principal.sirets)])),
    )


def may_record_for(principal: Principal, siret: str | None) -> bool:
    """Whether a write naming ``siret`` would pass :func:`require_writer_for` (a button shown
    or not; the route checks again)."""
    try:
        require_writer_for(principal, siret)
    except errors.DomainError:
        return False
    return True


def console_siret(principal: Principal, asked: str | None) -> str | None:
    """The establishment a console page shows: the one asked for when the principal acts for it
    (else 404, as the API answers), or the employer's own; None for operators and auditors
    who asked for none."""
    if asked:
        require_readable_siret(principal, asked)
        return asked
    return principal.siret
