"""What the command's areas share: the console, the services of the process, progress bars."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from api.bootstrap import Services, bootstrap
from ledger.domain.access import Principal
from ledger.domain.errors import DomainError
from ledger.domain.provenance import Channel, Provenance

console = Console()
CLI = Provenance("cli", Channel.CLI)
CLI_OPERATOR = Principal(role="operator", name="cli", key_id="cli")

# Exit codes scripts rely on.
ALL_APPLIED = 0
SOME_REJECTED = 1  # the file was read; some lines (or checks) failed: see the report
UNUSABLE_INPUT = 2  # a bad file, option or value: nothing was done
STORE_UNAVAILABLE = 3  # the store could not be reached: retry

DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]
TIME_FORMATS = [
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d",
]
JsonOption = typer.Option(False, "--json", help="Print the report as JSON (for scripts)")


def emit_json(data: Any) -> None:
    """A report on standard output as JSON, nothing else."""
    typer.echo(orjson.dumps(data, default=str, option=orjson.OPT_INDENT_2).decode())


@functools.cache
def services() -> Services:
    """The services of this command's process, built once by the composition root."""
    return bootstrap()


def fail(error: DomainError) -> typer.Exit:
    """Print a refusal with its stable code on standard error; the command exits 2."""
    Console(stderr=True).print(f"[red]{error.code}[/red]: {error.message}")
    return typer.Exit(UNUSABLE_INPUT)


@contextmanager
def file_progress(path: Path, quiet: bool = False) -> Iterator[Callable[[int, int], None]]:
    """A progress bar over a file's bytes with lines/s and ETA (on standard error); yields the
    callback to report (bytes read, lines read)."""
    started = time.monotonic()
    if quiet:
        yield lambda offset, lines: None
        return
    with Progress(
        TextColumn(f"[bold]{path.name}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[lines]:>10,} lines"),
        TextColumn("{task.fields[rate]:>8,.0f} lines/s"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    ) as progress:
        task = progress.add_task(path.name, total=path.stat().st_size, lines=0, rate=0)

        def report(offset: int, lines: int) -> None:
            elapsed = max(time.monotonic() - started, 1e-6)
            progress.update(task, completed=offset, lines=lines, rate=lines / elapsed)

        yield report
        progress.update(task, completed=path.stat().st_size)


@contextmanager
def events_progress(
    label: str, total: int, quiet: bool = False
) -> Iterator[Callable[[int, int], None]]:
    """A progress bar over log positions with events/s (since the first report, so a resumed
    run shows its own pace) and ETA, on standard error; yields the callback to report
    (position, log head)."""
    first: list[tuple[int, float]] = []
    if quiet:
        yield lambda position, head: None
        return
    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>10,.0f} events/s"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    ) as progress:
        task = progress.add_task(label, total=total, rate=0)

        def report(position: int, head: int) -> None:
            if not first:
                first.append((position, time.monotonic()))
            elapsed = max(time.monotonic() - first[0][1], 1e-6)
            progress.update(
                task, completed=position, total=head, rate=(position - first[0][0]) / elapsed
            )

        yield report
