"""``cpf-ledger audit``: prove the log is complete and unaltered, replay an agent, read the trail."""

from __future__ import annotations

import random
import uuid
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path

import typer
from rich.table import Table

from api.cli.common import CLI_OPERATOR, console, events_progress, services
from ledger.audit import (
    Checkpoint,
    chain_existing,
    check_checkpoint,
    make_checkpoint,
    private_key,
    replay_agent,
    verify_chain,
)

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
) -> None:
    """Recompute the hash chain from the start; exit 1 at the first break."""
    svc = services()
    ledger = svc.ledger
    head = ledger.recorder.max_notification_id() or 0
    with events_progress("verify", head) as report:
        result = verify_chain(ledger.recorder, progress=lambda position: report(position, head))
        report(result.head_position, head)
    failures = 0
    if result.first_break:
        b = result.first_break
        console.print(f"[red]broken at position {b.position}: {b.problem}[/red] ({b.detail})")
        failures += 1
    else:
        console.print(
            f"[green]chain intact[/green]: {result.checked} events, head "
            f"{result.head_chain[:16]}… at position {result.head_position}"
        )
    for path in checkpoint:
        trusted = trusted_key or svc.settings.trusted_checkpoint_key
        problem = check_checkpoint(ledger.recorder, Checkpoint.load(path.read_bytes()), trusted)
        if problem:
            failures += 1
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
            if (replayed["balance"], replayed["reserve"]) != (shown["balance"], shown["reserve"]):
                failures += 1
                console.print(
                    f"[red]agent {agent_hex}: views {shown['balance']} h, "
                    f"events {replayed['balance']} h[/red]"
                )
        console.print(f"sampled {min(sample, len(ids))} agents against a replay of their events")
    if failures:
        raise typer.Exit(1)


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
    agent_id: str,
    as_of: str | None = typer.Option(None, help="Effective date (YYYY-MM-DD)"),
    known_at: str | None = typer.Option(None, help="Recorded time (ISO 8601)"),
) -> None:
    """An agent's counter and history from the events, and whether the views agree."""
    svc = services()
    ledger = svc.ledger
    when = datetime.fromisoformat(known_at) if known_at else None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    day = date.fromisoformat(as_of) if as_of else None
    result = replay_agent(ledger, uuid.UUID(agent_id), day, when)
    svc.projector.catch_up()
    shown = svc.queries.balance(
        CLI_OPERATOR, uuid.UUID(agent_id).hex, day, when.isoformat() if when else None
    )
    svc.trail.record("cli", "cli:audit replay", [uuid.UUID(agent_id).hex])
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
    agent_id: str | None = typer.Option(None, "--agent", help="Who saw this agent"),
    principal: str | None = typer.Option(None, "--principal", help="What this principal saw"),
) -> None:
    """The read trail: who saw an agent, or what a principal saw."""
    if not agent_id and not principal:
        raise typer.BadParameter("give --agent or --principal")
    rows = services().trail.query(uuid.UUID(agent_id).hex if agent_id else None, principal)
    table = Table("at", "principal", "via", "agent")
    for row in rows:
        table.add_row(row["at"][:19], row["principal"], row["via"], row["agent_id"])
    console.print(table)
