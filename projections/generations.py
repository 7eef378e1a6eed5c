"""The generations of the views: their states, and the log position each has applied.

Each view owns physical tables per generation (``balances_g2``); ``projection_generations`` says
which generation is live, being built or retired, and ``projection_positions`` the log position
each generation's tables have applied, written in the same transaction as their rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from projections.store import Cursor
from projections.views import View

LIVE, BUILDING, RETIRED = "live", "building", "retired"


@dataclass(frozen=True, slots=True)
class Target:
    """One generation of one view, and the log position it has applied."""

    view: View
    generation: int
    position: int

    @property
    def tracking_name(self) -> str:
        return self.view.table(self.generation)


def create_bookkeeping(cur: Cursor) -> None:
    cur.execute(
        "CREATE TABLE IF NOT EXISTS projection_generations (view TEXT NOT NULL, "
        "generation INTEGER NOT NULL, state TEXT NOT NULL, PRIMARY KEY (view, generation))"
    )
    cur.execute(
        "CREATE TABLE IF NOT EXISTS projection_positions (name TEXT PRIMARY KEY, "
        "position BIGINT NOT NULL)"
    )
