"""docker-compose.yml and the Dockerfile, checked with what runs here (no Docker engine): every
command they run exists, every setting they pass is one the service reads."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from typer.testing import CliRunner

from api.cli import app
from ledger.store.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SETTINGS = {f"LEDGER_{name.upper()}" for name in Settings.model_fields}


def cli_accepts(arguments: list[str]) -> bool:
    result = CliRunner().invoke(app, [*arguments, "--help"])
    return result.exit_code == 0


def test_compose_runs_the_database_setup_api_and_worker_with_health_checks() -> None:
    services = COMPOSE["services"]
    assert set(services) == {"db", "setup", "api", "worker"}
    assert all("healthcheck" in services[name] for name in ("db", "api", "worker"))
    worker_check = services["worker"]["healthcheck"]["test"]
    assert worker_check[1] == "cpf-ledger" and cli_accepts(worker_check[2:4])
    assert services["api"]["depends_on"]["setup"]["condition"] == "service_completed_successfully"
    assert "pgdata" in COMPOSE["volumes"]
    assert services["db"]["volumes"] == ["pgdata:/var/lib/postgresql/data"]


def test_every_compose_command_exists_and_every_setting_is_read() -> None:
    for name, service in COMPOSE["services"].items():
        if "build" not in service:
            continue
        command = service["command"]
        assert command[0] == "cpf-ledger", name
        options = [part for part in command[1:] if not part.startswith("${")]
        assert cli_accepts(options[:1] if options[0] == "serve" else options[:2]), name
        for key in service["environment"]:
            if key.startswith("LEDGER_"):
                assert key in SETTINGS, f"{name}: {key} is not a setting"
    anchor = COMPOSE["x-ledger-env"]
    assert all(key in SETTINGS for key in anchor)


def test_the_image_runs_an_existing_command() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE)
    assert cmd is not None
    arguments = yaml.safe_load(cmd.group(1))
    assert arguments[0] == "cpf-ledger" and cli_accepts([arguments[1]])
    for line in re.findall(r"^ENV (.*?)(?:\n\S|\Z)", dockerfile, re.MULTILINE | re.DOTALL):
        for key in re.findall(r"(LEDGER_\w+)=", line):
            assert key in SETTINGS


def test_compose_names_its_images_and_reads_secrets_from_an_env_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert "Compose v2" in text
    for name, service in COMPOSE["services"].items():
        assert "image" in service, name
        if "build" in service:
            assert service["env_file"][0]["path"] == ".env", name
            secrets = [key for key in service.get("environment", {}) if "KEY" in key]
            assert secrets == [], f"{name} takes secrets from the environment block"
