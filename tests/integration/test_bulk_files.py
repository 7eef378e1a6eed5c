"""Campaign imports and decrement file deposits on both stores."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from ledger.access_service import AccessService
from ledger.application import Ledger
from ledger.domain import errors
from ledger.domain.provenance import Channel, Provenance
from ledger.files.campaign import import_campaign
from ledger.files.deposits import deposit_file
from ledger.store.settings import Settings
from tests.commands import record_line, register_agent
from tests.factories import make_nir, make_siret

S1, S2 = make_siret(31), make_siret(32)
CAMPAIGN_HEADER = "nir;birth_name;first_name;birth_date;siret;year;hours_worked;low_qualification"
DEPOSIT_HEADER = "nir;birth_name;first_name;birth_date;siret;hours;days;start;end;title;reference"


def write(path: Path, header: str, rows: list[str], encoding: str = "utf-8") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding=encoding)
    return path


def campaign_row(
    seq: int, siret: str = S1, year: int = 2021, hours: str = "1607", low: str = ""
) -> str:
    return f"{make_nir(seq)};Nom{seq};Prénom;1980-01-01;{siret};{year};{hours};{low}"


def test_campaign_reports_every_bad_line_and_applies_the_rest_once(
    ledger: Ledger, tmp_path: Path
) -> None:
    rows = [
        campaign_row(1),
        campaign_row(2, hours="803,5"),  # half a year: 12.5 -> 13 h
        campaign_row(3, low="oui"),  # low qualification: 50 h
        make_nir(4)[:-1] + "0;X;Y;1980-01-01;" + S1 + ";2021;1607;",  # NIR checksum
        campaign_row(5, siret="12345678901234"),  # SIRET checksum
        campaign_row(6, year=2016),  # no CPF before 2017
        campaign_row(7, hours="-4"),  # negative hours
        campaign_row(8, hours="beaucoup"),  # not a number
        f"{make_nir(9)};Nom9;Prénom;31/02/1980;{S1};2021;1607;",  # impossible date
        campaign_row(10, low="peut-être"),  # bad flag
        campaign_row(11) + ";extra",  # too many fields
        campaign_row(1, siret=S2, hours="500"),  # second employer, same year
    ]
    path = write(tmp_path / "campagne.csv", CAMPAIGN_HEADER, rows)
    report = import_campaign(ledger, path, "operator:test")
    assert (report.lines_read, report.applied, report.already_applied) == (12, 4, 0)
    assert report.rejected == {
        "invalid_nir": 1,
        "invalid_siret": 1,
        "invalid_input": 4,
        "invalid_hours": 2,
    }
    assert sorted(line for line, _, _ in report.rejections) == [5, 6, 7, 8, 9, 10, 11, 12]
    assert all(make_nir(4) not in message for _, _, message in report.rejections)
    balances = {seq: ledger.get_agent(ledger.agent_id(make_nir(seq))).balance for seq in (1, 2, 3)}
    assert balances == {1: 25, 2: 13, 3: 50}
    head = ledger.recorder.max_notification_id()
    again = import_campaign(ledger, path, "operator:test")
    assert (again.applied, again.already_applied, again.rejected_total) == (0, 4, 8)
    assert ledger.recorder.max_notification_id() == head
    changed = write(tmp_path / "later.csv", CAMPAIGN_HEADER, [campaign_row(1, hours="800")])
    later = import_campaign(ledger, changed, "operator:test")
    assert later.rejected == {"acquisition_line_conflict": 1}
    assert "regularisation" in later.rejections[0][2]


def test_campaign_in_latin1_with_commas(ledger: Ledger, tmp_path: Path) -> None:
    rows = [f"{make_nir(1)},Lefèvre,Zoé,1980-01-01,{S1},2021,1607,"]
    path = write(tmp_path / "latin1.csv", CAMPAIGN_HEADER.replace(";", ","), rows, "latin-1")
    report = import_campaign(ledger, path, "operator:test")
    assert report.applied == 1
    assert ledger.identity(ledger.agent_id(make_nir(1))).birth_name == "Lefèvre"


def test_campaign_killed_at_a_random_point_then_run_again_credits_each_line_once(
    settings: Settings, tmp_path: Path
) -> None:
    lines = 3000
    rows = [
        campaign_row(seq, siret=S1 if seq % 3 else S2, hours=str(400 + seq % 1200))
        for seq in range(1, lines + 1)
    ]
    path = write(tmp_path / "big.csv", CAMPAIGN_HEADER, rows)
    env = {
        **os.environ,
        "LEDGER_DATA_DIR": str(settings.data_dir),
        "LEDGER_DATABASE_URL": settings.database_url or "",
        "LEDGER_ID_KEY": "k" * 40,
    }
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from ledger.application import Ledger\n"
        "from ledger.files.campaign import import_campaign\n"
        "import_campaign(Ledger(), Path(sys.argv[1]), 'operator:test', lines_per_chunk=50,\n"
        "    progress=lambda offset, read: print(read, flush=True))\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(path)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    stop_after = random.Random().randint(300, 2500)
    while int(child.stdout.readline() or lines) < stop_after:
        pass
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    ledger = Ledger(settings)
    try:
        partial = ledger.recorder.max_notification_id() or 0
        assert 0 < partial < 2 * lines
        report = import_campaign(ledger, path, "operator:test")
        assert report.applied + report.already_applied == lines and report.rejected_total == 0
        agents = ledger.load_agents([ledger.agent_id(make_nir(seq)) for seq in range(1, lines + 1)])
        assert len(agents) == lines
        for agent in agents.values():
            assert agent.version == 2  # registered once, credited once
        assert ledger.recorder.max_notification_id() == 2 * lines
    finally:
        ledger.close()


def register(ledger: Ledger, seq: int, name: str = "Martin") -> None:
    setup = Provenance("test", Channel.CLI)
    for siret in (S1, S2):  # deposits name registered establishments only
        with contextlib.suppress(errors.EstablishmentAlreadyRegistered):
            AccessService(ledger).register_establishment(siret, f"Établissement {siret}", setup)
    agent_id = register_agent(ledger, make_nir(seq), name, "Anne", date(1985, 1, 1), setup).agent_id
    record_line(ledger, agent_id, 2021, S1, 1607, setup)
    record_line(ledger, agent_id, 2022, S1, 1607, setup)  # 50 h


def deposit_row(
    seq: int,
    hours: str = "10",
    days: str = "",
    siret: str = S1,
    name: str = "Martin",
    start: str = "2023-03-01",
    end: str = "2023-03-02",
    reference: str = "R1",
) -> str:
    return (
        f"{make_nir(seq)};{name};Anne;1985-01-01;{siret};{hours};{days};{start};{end};"
        f"Formation;{reference}"
    )


def test_decrement_file_with_every_kind_of_bad_line(ledger: Ledger, tmp_path: Path) -> None:
    for seq in (1, 2, 3):
        register(ledger, seq)
    rows = [
        deposit_row(1, hours="10"),  # 2 applied
        deposit_row(2, hours="", days="1,5", reference="R2"),  # 3 applied, 9 h
        make_nir(3)[:-1] + "9;Martin;Anne;1985-01-01;" + S1 + ";5;;2023-03-01;2023-03-02;F;R",  # 4
        deposit_row(3, siret="12345678901234"),  # 5 bad SIRET
        deposit_row(3, hours="2.5"),  # 6 fractional hours
        deposit_row(3, hours="-1"),  # 7 negative
        deposit_row(3, hours="3", days="1"),  # 8 both
        deposit_row(3, start="2023-03-05", end="2023-03-01"),  # 9 dates in reverse
        deposit_row(1, hours="10"),  # 10 duplicate of line 2
        deposit_row(3, siret=S2),  # 11 SIRET out of scope
        deposit_row(3, name="Dupont"),  # 12 identity mismatch
        deposit_row(4),  # 13 unknown agent
        deposit_row(3, hours="60", reference="big"),  # 14 over the balance
        deposit_row(3, hours="40", reference="ok"),  # 15 applied
    ]
    path = write(tmp_path / "decrements.csv", DEPOSIT_HEADER, rows)
    deposit = deposit_file(ledger, path, "decrements.csv", "employer:test", S1, {S1})
    report = {line["line"]: (line["status"], line["code"]) for line in deposit.lines}
    assert report == {
        2: ("applied", None),
        3: ("applied", None),
        4: ("rejected", "invalid_nir"),
        5: ("rejected", "invalid_siret"),
        6: ("rejected", "invalid_hours"),
        7: ("rejected", "invalid_hours"),
        8: ("rejected", "invalid_hours"),
        9: ("rejected", "invalid_input"),
        10: ("rejected", "duplicate_line"),
        11: ("rejected", "siret_out_of_scope"),
        12: ("rejected", "agent_not_found"),
        13: ("rejected", "agent_not_found"),
        14: ("rejected", "insufficient_balance"),
        15: ("applied", None),
    }
    by_line = {line["line"]: line for line in deposit.lines}
    assert (by_line[3]["from_counter"], by_line[3]["balance_after"]) == (9, 41)
    assert all(make_nir(3) not in str(line["message"]) for line in deposit.lines)
    balances = [ledger.get_agent(ledger.agent_id(make_nir(s))).balance for s in (1, 2, 3)]
    assert balances == [40, 41, 10]
    head = ledger.recorder.max_notification_id()
    again = deposit_file(ledger, path, "decrements.csv", "employer:test", S1, {S1})
    assert again.id == deposit.id and again.lines == deposit.lines
    assert ledger.recorder.max_notification_id() == head
    assert deposit.summary()["applied"] == 3 and deposit.summary()["rejected"] == 11


def test_decrement_file_in_latin1_and_with_a_bom(ledger: Ledger, tmp_path: Path) -> None:
    register(ledger, 1, "Lefèvre")
    latin = write(
        tmp_path / "latin.csv", DEPOSIT_HEADER, [deposit_row(1, name="Lefèvre")], "latin-1"
    )
    assert deposit_file(ledger, latin, "l.csv", "e", S1, {S1}).lines[0]["status"] == "applied"
    bom = tmp_path / "bom.csv"
    bom.write_bytes(
        (
            "\ufeff"
            + DEPOSIT_HEADER
            + "\r\n"
            + deposit_row(1, name="LEFEVRE", reference="R9")
            + "\r\n"
        ).encode()
    )
    assert deposit_file(ledger, bom, "b.csv", "e", S1, {S1}).lines[0]["status"] == "applied"
    bad_header = write(tmp_path / "bad.csv", "nir;name", ["x;y"])
    with pytest.raises(Exception, match="missing columns"):
        deposit_file(ledger, bad_header, "bad.csv", "e", S1, {S1})


def test_a_campaign_shared_by_two_processes_applies_each_line_once(
    settings: Settings, tmp_path: Path
) -> None:
    from ledger.files.campaign import import_campaign_in_parallel

    rows = [campaign_row(seq, hours=str(400 + seq)) for seq in range(1, 201)]
    rows += [campaign_row(7, siret=S2, hours="300"), "bad;line"]
    path = write(tmp_path / "campagne.csv", CAMPAIGN_HEADER, rows)
    report = import_campaign_in_parallel(settings, path, "operator:test", workers=2)
    assert (report.lines_read, report.applied, report.rejected_total) == (202, 201, 1)
    again = import_campaign_in_parallel(settings, path, "operator:test", workers=2)
    assert (again.applied, again.already_applied) == (0, 201)
    ledger = Ledger(settings)
    try:
        assert ledger.recorder.max_notification_id() == 200 * 2 + 1
    finally:
        ledger.close()
