"""The command line as scripts use it: exit codes, JSON reports, typed options with clean errors,
reports that read as sentences, and the correctness seen on the way (run as a process)."""

from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path

import pytest

from api.processes import CLI, environment
from tests.factories import make_nir, make_siret

SIRET, UNREGISTERED = make_siret(61), make_siret(62)
LAST_YEAR = date.today().year - 1
CAMPAIGN_HEADER = "nir;birth_name;first_name;birth_date;siret;year;hours_worked"
DEPOSIT_HEADER = "nir;birth_name;first_name;birth_date;siret;hours;start;end;title;reference"


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An embedded store with one establishment and two agents credited last year."""
    directory = tmp_path_factory.mktemp("cli")
    env = environment(directory, id_key="c" * 40)
    assert run(env, "establishments", "register", SIRET, "Mairie").returncode == 0
    campaign = directory / "campagne.csv"
    campaign.write_text(
        "\n".join(
            [
                CAMPAIGN_HEADER,
                f"{make_nir(6001)};Martin;Anne;1985-03-01;{SIRET};{LAST_YEAR};1607",
                f"{make_nir(6002)};Durand;Paul;1979-07-09;{SIRET};{LAST_YEAR};1607",
            ]
        )
        + "\n"
    )
    assert run(env, "campaign", "import", str(campaign)).returncode == 0
    return env


def test_version_and_help(env: dict[str, str]) -> None:
    version = run(env, "--version")
    assert version.returncode == 0 and version.stdout.startswith("cpf-ledger ")
    assert "Exit codes" in run(env, "--help").stdout


def test_campaign_exit_codes_and_json(env: dict[str, str], tmp_path: Path) -> None:
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(
        f"{CAMPAIGN_HEADER}\n{make_nir(6003)};Petit;Léa;1990-01-01;{SIRET};{LAST_YEAR};1607\n"
        f"{make_nir(6004)};Petit;Léo;1990-01-01;{SIRET};2016;1607\n"
    )
    result = run(env, "campaign", "import", str(mixed), "--json")
    assert result.returncode == 1  # a line was rejected
    report = json.loads(result.stdout)
    assert (report["applied"], report["rejected"]) == (1, {"invalid_input": 1})
    assert report["rejections"][0]["line"] == 3
    again = run(env, "campaign", "import", str(mixed))
    assert again.returncode == 1
    assert "2 lines read: 0 applied, 1 already applied before, 1 rejected." in again.stdout
    assert "{'" not in again.stdout  # sentences and tables, never a Python dict
    bad = tmp_path / "bad.csv"
    bad.write_text("nir;name\n1;2\n")
    refused = run(env, "campaign", "import", str(bad))
    assert refused.returncode == 2 and "missing columns" in refused.stderr
    assert run(env, "campaign", "import", str(tmp_path / "missing.csv")).returncode == 2


def deposit_line(seq: int, name: str, siret: str = SIRET, reference: str = "R") -> str:
    day = f"{LAST_YEAR + 1}-02-03"
    return f"{make_nir(seq)};{name};Anne;1985-03-01;{siret};2;{day};{day};Excel;{reference}"


def test_deposits_say_what_they_did_and_once(env: dict[str, str], tmp_path: Path) -> None:
    file = tmp_path / "decrements.csv"
    file.write_text(
        "\n".join(
            [
                DEPOSIT_HEADER,
                deposit_line(6001, "Martine"),  # a wrong birth name …
                deposit_line(6001, "Martin"),  # … corrected: not a duplicate
                deposit_line(6002, "Durand", siret=UNREGISTERED),  # valid, but no establishment
            ]
        )
        + "\n"
    )
    first = run(env, "decrements", "deposit", str(file), "--json")
    assert first.returncode == 1
    report = json.loads(first.stdout)
    assert [(line["status"], line["code"]) for line in report["report"]] == [
        ("rejected", "agent_not_found"),
        ("applied", None),
        ("rejected", "establishment_not_found"),
    ]
    assert report["already_deposited"] is False
    again = run(env, "decrements", "deposit", str(file))
    assert again.returncode == 1
    assert "already deposited: nothing was applied again" in again.stdout
    assert "3 lines: 1 applied, 2 rejected" in again.stdout


def test_typed_options_never_print_a_traceback(env: dict[str, str]) -> None:
    agent = json.loads(run(env, "campaign", "import", "/dev/null", "--json").stdout or "{}")
    assert agent == {}
    replayed = run(env, "audit", "replay", "not-an-id")
    assert replayed.returncode == 2 and "Traceback" not in replayed.stderr
    unknown = run(env, "audit", "replay", "00000000-0000-4000-8000-000000000000")
    assert unknown.returncode == 2 and "agent_not_found" in unknown.stderr
    bad_date = run(
        env, "audit", "replay", "00000000-0000-4000-8000-000000000000", "--as-of", "31-12-2025"
    )
    assert bad_date.returncode == 2 and "Traceback" not in bad_date.stderr


def test_replay_takes_french_dates_and_reports_json(env: dict[str, str]) -> None:
    trail = run(env, "audit", "trail", "--principal", "cli", "--json")
    assert trail.returncode == 0 and isinstance(json.loads(trail.stdout), list)
    status = run(env, "projections", "status", "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["stuck"] is None
    verify = run(env, "audit", "verify", "--json")
    assert verify.returncode == 0 and json.loads(verify.stdout)["intact"] is True
    first = json.loads(run(env, "projections", "check", "--json").stdout)
    assert first == []
    from ledger.application import Ledger
    from ledger.store.settings import Settings

    ledger = Ledger(Settings(data_dir=Path(env["LEDGER_DATA_DIR"]), id_key="c" * 40))
    try:
        agent = ledger.agent_id(make_nir(6001)).hex
    finally:
        ledger.close()
    replay = run(env, "audit", "replay", agent, "--as-of", f"31/12/{LAST_YEAR}", "--json")
    assert replay.returncode == 0, replay.stderr
    assert json.loads(replay.stdout)["balance"] == 25


def test_exporting_an_unknown_siret_is_an_error_not_an_empty_file(
    env: dict[str, str], tmp_path: Path
) -> None:
    output = tmp_path / "out.csv"
    refused = run(env, "export", UNREGISTERED, "--year", str(LAST_YEAR), "--output", str(output))
    assert refused.returncode == 2 and "establishment_not_found" in refused.stderr
    assert not output.exists()
    done = run(env, "export", SIRET, "--year", str(LAST_YEAR), "--output", str(output))
    assert done.returncode == 0 and output.read_bytes().count(b"\r\n") > 1
    assert run(env, "export", SIRET, "--year", "2024", "--format", "pdf").returncode == 2


def test_an_unreachable_store_exits_3(tmp_path: Path) -> None:
    env = environment(
        tmp_path,
        "postgresql://postgres@127.0.0.1:1/nowhere",
        id_key="c" * 40,
        db_connect_timeout="1",
    )
    result = run(env, "projections", "status")
    assert result.returncode == 3 and "store_unavailable" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_rebuild_with_its_first_pass_or_by_pages_gives_views_that_check(
    postgres_url: str, tmp_path: Path
) -> None:
    """On PostgreSQL, `projections rebuild` fills new views in a first pass over the whole log;
    `--by-pages` goes page by page from the start: either way the views check against the log."""
    env = environment(tmp_path, postgres_url, id_key="c" * 40)
    assert run(env, "establishments", "register", SIRET, "Mairie").returncode == 0
    campaign = tmp_path / "campagne.csv"
    campaign.write_text(
        CAMPAIGN_HEADER
        + "".join(
            f"\n{make_nir(6100 + i)};Martin;Anne;1985-03-01;{SIRET};{LAST_YEAR};{800 + i}"
            for i in range(30)
        )
        + "\n"
    )
    assert run(env, "campaign", "import", str(campaign)).returncode == 0
    for options in ([], ["--by-pages", "--page-size", "7"]):
        rebuilt = run(env, "projections", "rebuild", *options)
        assert rebuilt.returncode == 0, rebuilt.stderr
        checked = run(env, "projections", "check", "--json")
        assert checked.returncode == 0 and json.loads(checked.stdout) == []
    status = json.loads(run(env, "projections", "status", "--json").stdout)
    assert {view["generation"] for view in status["views"]} == {3}  # rebuilt twice
