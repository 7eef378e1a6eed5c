"""The console's routers, in the order the application includes them."""

from __future__ import annotations

from api.console import (
    administration,
    agents,
    audit,
    decrements,
    operations,
    regularisations,
    signin,
)

ROUTERS = (
    signin.router,
    agents.router,
    decrements.router,
    regularisations.router,
    administration.router,
    operations.router,
    audit.router,
)
