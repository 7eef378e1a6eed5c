"""The synthetic population: deterministic, realistic mix, loads cleanly on both stores."""

from __future__ import annotations

from pathlib import Path

from ledger.application import Ledger
from ledger.files.demo import generate, load, write_files
from projections.checking import check
from projections.runner import Projector


def test_the_same_seed_gives_the_same_files(tmp_path: Path) -> None:
    first = write_files(generate(80, 5, seed=7, last_year=2024), tmp_path / "a")
    second = write_files(generate(80, 5, seed=7, last_year=2024), tmp_path / "b")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    other = write_files(generate(80, 5, seed=8, last_year=2024), tmp_path / "c")
    assert [p.read_bytes() for p in first] != [p.read_bytes() for p in other]


def test_a_demo_population_loads_every_kind_of_movement(ledger: Ledger, tmp_path: Path) -> None:
    population = generate(200, 6, seed=2026, last_year=2024)
    report = load(ledger, population, tmp_path)
    lines = sum(len(per_year) for person in population.agents for per_year in person.lines.values())
    assert report.establishments == 6 and report.campaign_lines == lines
    projector = Projector(ledger)
    projector.catch_up()
    with projector.store.transaction(write=False) as cur:
        kinds = {row[0] for row in cur.execute("SELECT DISTINCT kind FROM movements").fetchall()}
        agents = cur.execute("SELECT COUNT(*) FROM balances").fetchone()
    assert kinds >= {
        "Registered",
        "AcquisitionLineRecorded",
        "DifConverted",
        "LowQualificationDeclared",
        "DifReserveDeclared",
        "Decremented",
        "DecrementCancelled",
        "YearRegularised",
        "Closed",
    }
    assert agents == (200,)
    assert check(projector) == []
