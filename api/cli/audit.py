"""``cpf-ledger audit``: prove the log is complete and unaltered, replay an agent, read the trail."""

from __future__ import annotations

import random
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from api.cli.common import (
    CLI_OPERATOR,
    DATE_FORMATS,
    SOME_REJECTED,
    TIME_FORMATS,
    JsonOption,
    console,
    emit_json,
    events_progress,
    fail,
    services,
)
from ledger.audit import (
    Checkpoint,
    chain_existing,
    check_checkpoint,
    make_checkpoint,
    private_key,
    replay_agent,
    verify_chain,
)
from ledger.domain.errors import AgentNotFound

app = typer.Typer(help="Prove the log is complete and unaltered.", no_args_is_help=True)


@app.command("verify")
def audit_verify(
    checkpoint: list[Path] = typer.Option(
        [], "--checkpoint", exists=True, help="Exported checkpoint files the log must extend"
    ),
    trusted_key: str | None = typer.Option(
        None, help="The public key checkpoints must carry (default: LEDGER_AUDIT_TRUSTED_KEY)"
    ),
    sample: int = typer.Option(0, min=0, help="Also check this many agents' balances vs replay"),
    as_json: bool = JsonOption,
) -> None:
    """Recompute the hash chain from the start and account for every stored row; exit 1 at the
    first break (or a checkpoint the log does not extend)."""
    svc = services()
    ledger = svc.ledger
    head = ledger.recorder.max_notification_id() or 0
    with events_progress("verify", head, quiet=as_json) as report:
        result = verify_chain(ledger.recorder, progress=lambda position: report(position, head))
        report(result.head_position, head)
    failures = 0
    found: dict[str, Any] = {
        "intact": result.ok,
        "checked": result.checked,
        "head_position": result.head_position,
        "head_chain": result.head_chain,
        "first_break": asdict(result.first_break) if result.first_break else None,
        "checkpoints": [],
        "sampled": [],
    }
    if result.first_break:
        b = result.first_break
        failures += 1
        if not as_json:
            console.print(f"[red]broken at position {b.position}: {b.problem}[/red] ({b.detail})")
    elif not as_json:
        console.print(
            f"[green]chain intact[/green]: {result.checked} events, head "
            f"{result.head_chain[:16]}… at position {result.head_position}, every row accounted for"
        )
    for path in checkpoint:
        trusted = trusted_key or svc.settings.trusted_checkpoint_key
        problem = check_checkpoint(ledger.recorder, Checkpoint.load(path.read_bytes()), trusted)
        found["checkpoints"].append({"file": path.name, "problem": problem})
        failures += bool(problem)
        if as_json:
            continue
        if problem:
            console.print(f"[red]{path.name}: {problem}[/red]")
        else:
            console.print(f"[green]{path.name}: the log extends this checkpoint[/green]")
    if sample:
        svc.projector.catch_up()
        queries = svc.queries
        with svc.projector.store.transaction(write=False) as cur:
            ids = [row[0] for row in cur.execute("SELECT agent_id FROM balances").fetchall()]
        for agent_hex in random.sample(ids, min(sample, len(ids))):
            replayed = replay_agent(ledger, uuid.UUID(agent_hex))
            shown = queries.balance(CLI_OPERATOR, agent_hex)
            agrees = (replayed["balance"], replayed["reserve"]) == (
                shown["balance"],
                shown["reserve"],
            )
            found["sampled"].append({"agent_id": agent_hex, "agrees": agrees})
            if not agrees:
                failures += 1
                if not as_json:
                    console.print(
                        f"[red]agent {agent_hex}: views {shown['balance']} h, "
                        f"events {replayed['balance']} h[/red]"
                    )
        if not as_json:
            console.print(
                f"sampled {min(sample, len(ids))} agents against a replay of their events"
            )
    if as_json:
        emit_json(found)
    if failures:
        raise typer.Exit(SOME_REJECTED)


@app.command("checkpoint")
def audit_checkpoint(
    export: Path | None = typer.Option(None, help="Write the signed checkpoint to this file"),
) -> None:
    """Sign the current chain head (after verifying the chain)."""
    svc = services()
    ledger = svc.ledger
    try:
        checkpoint = make_checkpoint(
            ledger.recorder, private_key(ledger.settings.checkpoint_signing_seed)
        )
    except ValueError as error:
        console.print(f"[red]{error}")
        raise typer.Exit(1) from None
    svc.checkpoints.add(asdict(checkpoint))
    if export:
        export.write_bytes(checkpoint.export())
    console.print(
        f"checkpoint at position {checkpoint.position}, chain "
        f"{checkpoint.chain[:16]}…, key {checkpoint.public_key}"
    )


@app.command("chain-existing")
def audit_chain_existing() -> None:
    """Migration: chain events recorded before the chain existed (stop writers first)."""
    console.print(f"chained {chain_existing(services().ledger.recorder)} events")


@app.command("replay")
def audit_replay(
    agent_id: uuid.UUID = typer.Argument(..., help="The agent's id"),
    as_of: datetime | None = typer.Option(
        None, formats=DATE_FORMATS, help="Effective date (YYYY-MM-DD or DD/MM/YYYY)"
    ),
    known_at: datetime | None = typer.Option(
        None, formats=TIME_FORMATS, help="Recorded time (ISO 8601; UTC unless it says)"
    ),
    as_json: bool = JsonOption,
) -> None:
    """An agent's counter and history from the events, and whether the views agree (exit 1
    when they do not)."""
    svc = services()
    ledger = svc.ledger
    when = known_at.replace(tzinfo=known_at.tzinfo or UTC) if known_at else None
    day = as_of.date() if as_of else None
    result = replay_agent(ledger, agent_id, day, when)
    if not result["movements"] and not (day or when):
        raise fail(AgentNotFound("no such agent"))
    svc.projector.catch_up()
    shown = svc.queries.balance(CLI_OPERATOR, agent_id.hex, day, when.isoformat() if when else None)
    svc.trail.record("cli", "cli:audit replay", [agent_id.hex])
    agrees = (shown["balance"], shown["reserve"]) == (result["balance"], result["reserve"])
    if as_json:
        emit_json({**result, "views": shown, "views_agree": agrees})
        raise typer.Exit(0 if agrees else SOME_REJECTED)
    table = Table("position", "effective", "recorded", "kind", "hours", "balance", "by")
    for m in result["movements"]:
        table.add_row(
            str(m["position"]),
            m["effective_date"],
            m["recorded_at"][:19],
            m["kind"],
            str(m["hours"]),
            str(m["balance_after"]),
            str(m["provenance"]["principal"]),
        )
    console.print(table)
    console.print(f"balance from the events: {result['balance']} h, reserve {result['reserve']} h")
    if (shown["balance"], shown["reserve"]) != (result["balance"], result["reserve"]):
        console.print(f"[red]the views show {shown['balance']} h, reserve {shown['reserve']} h")
        raise typer.Exit(1)
    console.print("[green]the views agree")


@app.command("trail")
def audit_trail(
    agent_id: uuid.UUID | None = typer.Option(None, "--agent", help="Who saw this agent"),
    principal: str | None = typer.Option(None, "--principal", help="What this principal saw"),
    as_json: bool = JsonOption,
) -> None:
    """The read trail: who saw an agent, or what a principal saw."""
    if not agent_id and not principal:
        raise typer.BadParameter("give --agent or --principal")
    rows = services().trail.query(agent_id.hex if agent_id else None, principal)
    if as_json:
        emit_json(rows)
        return
    table = Table("at", "principal", "via", "agent")
    for row in rows:
        table.add_row(row["at"][:19], row["principal"], row["via"], row["agent_id"])
    console.print(table)
