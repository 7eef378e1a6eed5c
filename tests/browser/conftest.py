"""The console in a real browser: Debian's Chromium, headless, driven by Playwright, against the
service started as a deployment starts it (``cpf-ledger serve`` on a free port) over a demo
population.

Like the PostgreSQL tests, these are skipped when the browser is missing, except in CI
(``CI=true``), where they are required and fail instead (``.ci/run`` installs Chromium).

Screenshots of the main pages are written to ``$CONSOLE_SCREENSHOTS`` when it is set (the ones
in ``docs/screenshots/`` came from ``CONSOLE_SCREENSHOTS=docs/screenshots``), else to a
temporary directory.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp
import pytest

from api.processes import Stack, cli, environment
from ledger.files.demo import Population, generate
from ledger.files.demo_logins import PASSWORD, SECRET
from tests.conftest import IN_CI

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--lang=fr-FR",  # dates in the French order in date fields
]
AGENTS, ESTABLISHMENTS, SEED, LAST_YEAR = 80, 3, 2026, 2025  # the demo load's own defaults
ADMIN = "rh@etablissement-1.demo.invalid"
OPERATOR = "operateur@cdc.demo.invalid"
AUDITOR = "auditeur@cdc.demo.invalid"


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"the browser tests are required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright for Python is not installed (pip install playwright)")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Any) -> Iterator[Any]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    yield launched
    launched.close()


@dataclass
class Console:
    """The service under test, its demo population and what the tests share."""

    base: str
    env: dict[str, str]
    population: Population
    operator_key: str
    shots: Path
    contexts: dict[str, Any] = field(default_factory=dict)

    def api(self, path: str, **params: Any) -> Any:
        """A JSON read with an operator's key: the API's answer, to compare pages with."""
        import httpx

        response = httpx.get(
            self.base + path,
            params=params,
            headers={"Authorization": f"Bearer {self.operator_key}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    root = tmp_path_factory.mktemp("console")
    env = environment(
        root / "var",
        session_cookie_secure="false",  # http://127.0.0.1 only, as `make run`
        argon2_memory_kib="1024",
        argon2_time_cost="1",
        argon2_parallelism="1",
    )
    cli(
        env,
        "demo",
        "load",
        "--agents",
        str(AGENTS),
        "--establishments",
        str(ESTABLISHMENTS),
        "--seed",
        str(SEED),
        "--last-year",
        str(LAST_YEAR),
    )
    key = cli(env, "keys", "issue", "--role", "operator", "--name", "tests").splitlines()[-1]
    shots = Path(os.environ.get("CONSOLE_SCREENSHOTS") or root / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    with Stack(env, root / "server.log") as stack:
        stack.start_api()
        yield Console(
            stack.base,
            env,
            generate(AGENTS, ESTABLISHMENTS, SEED, LAST_YEAR),
            key,
            shots,
        )


class Watched:
    """A page whose console errors (a script failing, a policy violation) are collected."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("response", self._response)
        page.on("dialog", lambda dialog: dialog.accept())

    def _console(self, message: Any) -> None:
        # A page answered 401/403/404 by design is logged too: responses are judged below.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def _response(self, response: Any) -> None:
        """A page may answer a refusal; a script, a style, an image or an htmx request not."""
        if response.status >= 400 and response.request.resource_type != "document":
            self.errors.append(f"{response.status} {response.url}")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.page, name)

    def clean(self) -> None:
        """No script error and no Content-Security-Policy violation so far."""
        assert self.errors == [], self.errors


def sign_in(console: Console, browser: Any, email: str, code: str | None = None) -> Watched:
    """A browser of its own for ``email``, signed in through the console's form (a demo
    person: the second factor's secret is the demo one)."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="fr-FR", timezone_id="Europe/Paris"
    )
    page = Watched(context.new_page())
    page.goto(console.base + "/")
    assert page.url.startswith(console.base + "/connexion")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.fill("#second_factor", code or pyotp.TOTP(SECRET).now())
    page.click("button:has-text('Se connecter')")
    page.wait_for_url("**/tableau-de-bord")
    return page


@pytest.fixture(scope="session")
def admin(console: Console, browser: Any) -> Watched:
    """The demo administrator of establishment 1, signed in once for the whole run."""
    return sign_in(console, browser, ADMIN)


@pytest.fixture(scope="session")
def operator(console: Console, browser: Any) -> Watched:
    return sign_in(console, browser, OPERATOR)


@pytest.fixture(scope="session")
def auditor(console: Console, browser: Any) -> Watched:
    return sign_in(console, browser, AUDITOR)


def shoot(console: Console, page: Any, name: str, phone: bool = False) -> None:
    """A screenshot of the whole page (and, with ``phone``, at 390 px too)."""
    page.screenshot(path=str(console.shots / f"{name}.png"), full_page=True)
    if phone:
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(console.shots / f"{name}-390px.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})
