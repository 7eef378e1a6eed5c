"""A synthetic population, deterministic from a seed: campaign and decrement files like the real
ones, and the operators' movements that do not come in files.

Shares are rough but realistic: most agents work full time for one employer; some work temps non
complet, some have two employers in a year, some move; a few are category C low-qualified, had
their DIF converted, keep undeclared DIF at their employer, anticipate, cancel, get a
regularisation, retire.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from uuid import UUID

from stdnum import luhn
from stdnum.fr import nir as stdnum_nir

from ledger import commands as cmd
from ledger.access_service import AccessService
from ledger.application import Ledger
from ledger.domain import errors
from ledger.domain.movements import ClosureReason
from ledger.domain.provenance import Channel, Provenance
from ledger.files.campaign import COLUMNS as CAMPAIGN_COLUMNS
from ledger.files.campaign import import_campaign
from ledger.files.deposits import COLUMNS as DEPOSIT_COLUMNS
from ledger.files.deposits import deposit_file

FIRST_NAMES = [
    "Camille",
    "Léa",
    "Manon",
    "Inès",
    "Jade",
    "Louis",
    "Gabriel",
    "Raphaël",
    "Arthur",
    "Jules",
    "Chloé",
    "Lucas",
    "Hugo",
    "Emma",
    "Zoé",
    "Noé",
    "Anaïs",
    "Théo",
    "Sarah",
]
BIRTH_NAMES = [
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefèvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "N'Diaye",
]
TITLES = [
    "Bureautique",
    "Management d'équipe",
    "Préparation concours",
    "Langue des signes",
    "Sécurité incendie",
    "Comptabilité publique",
    "Anglais professionnel",
]


def demo_nir(rng: random.Random, seq: int) -> str:
    sex = rng.choice("12")
    year, month = rng.randint(60, 99), rng.randint(1, 12)
    dept = rng.choice(["75", "69", "13", "2A", "2B", "59", "33", "44"])
    body = f"{sex}{year:02d}{month:02d}{dept}{(seq // 997) % 990 + 1:03d}{seq % 997 + 1:03d}"
    return body + stdnum_nir.calc_check_digits(body + "00")


def demo_siret(seq: int) -> str:
    siren = f"2{seq:07d}"
    siren += luhn.calc_check_digit(siren)
    body = siren + "00010"
    return body[:13] + luhn.calc_check_digit(body[:13])


@dataclass
class DemoAgent:
    nir: str
    birth_name: str
    first_name: str
    birth_date: date
    lines: dict[int, list[tuple[str, int]]] = field(default_factory=dict)  # year -> (siret, hours)
    low_qualification_from: int | None = None
    dif_hours: int = 0
    reserve: tuple[str, int] | None = None
    retire: bool = False
    regularise: bool = False


@dataclass
class Population:
    establishments: list[tuple[str, str]]
    agents: list[DemoAgent]
    decrements: dict[str, list[list[str]]]  # siret -> rows of its decrement file
    years: list[int]


def generate(agents: int, establishments: int, seed: int, last_year: int) -> Population:
    """The population, the same for the same arguments."""
    rng = random.Random(seed)
    sirets = [(demo_siret(i + 1), f"Établissement {i + 1}") for i in range(establishments)]
    years = list(range(2017, last_year + 1))
    people = []
    decrements: dict[str, list[list[str]]] = {siret: [] for siret, _ in sirets}
    for seq in range(agents):
        person = DemoAgent(
            nir=demo_nir(rng, seq),
            birth_name=rng.choice(BIRTH_NAMES),
            first_name=rng.choice(FIRST_NAMES),
            birth_date=date(1960, 1, 1) + timedelta(days=rng.randint(0, 14000)),
        )
        employer = rng.choice(sirets)[0]
        start = rng.choice(years)
        for year in years[years.index(start) :]:
            if rng.random() < 0.08:  # moves to another employer
                employer = rng.choice(sirets)[0]
            worked = 1607 if rng.random() > 0.2 else rng.randint(500, 1400)  # temps non complet
            if rng.random() < 0.1:  # two employers in the year
                other = rng.choice(sirets)[0]
                half = worked // 2
                person.lines[year] = [(employer, half)] + (
                    [(other, worked - half)] if other != employer else []
                )
            else:
                person.lines[year] = [(employer, worked)]
        if rng.random() < 0.05:
            person.low_qualification_from = rng.choice(years[years.index(start) :])
        if start == 2017 and rng.random() < 0.4:
            person.dif_hours = rng.randint(10, 120)
        if rng.random() < 0.1:
            person.reserve = (employer, rng.randint(10, 80))
        person.retire = rng.random() < 0.03
        person.regularise = rng.random() < 0.02
        if rng.random() < 0.35:  # a training in the last year, decremented by its employer
            hours_or_days = (
                (str(rng.choice([7, 14, 21, 35])), "")
                if rng.random() < 0.7
                else ("", rng.choice(["1", "2", "0,5", "3"]))
            )
            anticipated = "oui" if rng.random() < 0.08 else ""
            training_start = date(last_year, rng.randint(1, 11), rng.randint(1, 28))
            decrements[employer].append(
                [
                    person.nir,
                    person.birth_name,
                    person.first_name,
                    person.birth_date.isoformat(),
                    employer,
                    hours_or_days[0],
                    hours_or_days[1],
                    training_start.isoformat(),
                    (training_start + timedelta(days=2)).isoformat(),
                    rng.choice(TITLES),
                    f"REF-{seq:06d}",
                    anticipated,
                ]
            )
        people.append(person)
    return Population(sirets, people, decrements, years)


def write_files(population: Population, directory: Path) -> list[Path]:
    """Campaign files (one per year) and decrement files (one per establishment)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for year in population.years:
        path = directory / f"campagne-{year}.csv"
        with path.open("w", encoding="utf-8") as out:
            out.write(";".join((*CAMPAIGN_COLUMNS, "low_qualification")) + "\n")
            for person in population.agents:
                for siret, hours in person.lines.get(year, []):
                    flag = "oui" if person.low_qualification_from == year else ""
                    out.write(
                        ";".join(
                            [
                                person.nir,
                                person.birth_name,
                                person.first_name,
                                person.birth_date.isoformat(),
                                siret,
                                str(year),
                                str(hours),
                                flag,
                            ]
                        )
                        + "\n"
                    )
        written.append(path)
    for siret, rows in population.decrements.items():
        if not rows:
            continue
        path = directory / f"decrements-{siret}.csv"
        with path.open("w", encoding="utf-8") as out:
            out.write(
                ";".join((*DEPOSIT_COLUMNS, "hours", "days", "anticipated")).replace(
                    "siret;start", "siret;start"
                )
                + "\n"
            )
            for row in rows:
                out.write(";".join(row[:5] + row[7:11] + row[5:7] + row[11:]) + "\n")
        written.append(path)
    return written


@dataclass
class LoadReport:
    establishments: int = 0
    campaign_lines: int = 0
    decrement_lines: int = 0
    operator_movements: int = 0
    events: int = 0


def load(
    ledger: Ledger,
    population: Population,
    directory: Path,
    principal: str = "operator:demo",
    say: Callable[[str], None] = lambda _: None,
) -> LoadReport:
    """Load a population: establishments, campaigns year by year, DIF, decrement files,
    cancellations, regularisations and closures."""
    access = AccessService(ledger)
    source = Provenance(principal, Channel.SYSTEM, "demo")
    report = LoadReport()
    for siret, name in population.establishments:
        try:
            access.register_establishment(siret, name, source)
            report.establishments += 1
        except errors.EstablishmentAlreadyRegistered:
            pass
    files = write_files(population, directory)
    for path in files:
        if path.name.startswith("campagne-"):
            result = import_campaign(ledger, path, principal)
            report.campaign_lines += result.applied
            say(f"{path.name}: {result.applied} lines applied, {result.already_applied} already")
    extra: list[cmd.Command] = []
    for person in population.agents:
        agent_id = ledger.agent_id(person.nir)
        if person.dif_hours:
            extra.append(
                cmd.ConvertDif(
                    agent_id=agent_id,
                    hours=person.dif_hours,
                    provenance=source,
                )
            )
        if person.reserve:
            extra.append(
                cmd.DeclareDifReserve(
                    agent_id=agent_id,
                    siret=person.reserve[0],
                    hours=person.reserve[1],
                    provenance=source,
                )
            )
    report.operator_movements += sum(1 for o in ledger.execute_many(extra) if o.error is None)
    applied: list[tuple[str, str]] = []
    for path in files:
        if path.name.startswith("decrements-"):
            deposit = deposit_file(ledger, path, path.name, principal, "operator", None)
            lines = [line for line in deposit.iter_lines() if line["status"] == "applied"]
            report.decrement_lines += len(lines)
            applied += [(line["agent_id"], line["decrement_id"]) for line in lines]
    say(f"decrement files: {report.decrement_lines} lines applied")
    rng = random.Random(len(population.agents))
    last_year = population.years[-1]
    for agent_hex, decrement_id in applied:
        if rng.random() < 0.1:
            ledger.execute(
                cmd.CancelDecrement(
                    agent_id=UUID(agent_hex),
                    decrement_id=decrement_id,
                    reason="training cancelled",
                    provenance=source,
                )
            )
            report.operator_movements += 1
    for person in population.agents:
        agent_id = ledger.agent_id(person.nir)
        if person.regularise and person.lines.get(last_year):
            siret = person.lines[last_year][0][0]
            request_id = access.submit_regularisation(
                agent_id,
                siret,
                last_year,
                rng.randint(1, 5),
                {
                    "signatory": "Direction des ressources humaines",
                    "signature_date": date(last_year + 1, 2, 1).isoformat(),
                    "stamp_present": True,
                },
                "DSN rectifiée",
                source,
            )
            try:
                access.decide_regularisation(request_id, True, None, source)
                report.operator_movements += 1
            except errors.DomainError:
                access.decide_regularisation(request_id, False, "refusée", source)
        if person.retire:
            try:
                ledger.execute(
                    cmd.CloseAccount(
                        agent_id=agent_id,
                        reason=ClosureReason.RETIREMENT,
                        effective_date=date(last_year + 1, 1, 1),
                        provenance=source,
                    )
                )
                report.operator_movements += 1
            except errors.DomainError:
                pass
    report.events = ledger.recorder.max_notification_id() or 0
    return report
