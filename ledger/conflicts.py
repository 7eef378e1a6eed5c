"""Commands that load an aggregate, change it and save it, again on a version conflict.

Two writers of one aggregate both load version *n*; the second ``save()`` fails with an
``IntegrityError``. Loading afresh and trying again (the state decides anew each time) is what
every service does, up to :data:`~ledger.application.VERSION_CONFLICT_RETRIES` times.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, TypeVar

from eventsourcing.persistence import IntegrityError

from ledger.application import VERSION_CONFLICT_RETRIES, Ledger

T = TypeVar("T")


def retrying(work: Callable[[], T]) -> T:
    """``work()``, run again on a version conflict (the last conflict is raised)."""
    for attempt in itertools.count(1):
        try:
            return work()
        except IntegrityError:
            if attempt >= VERSION_CONFLICT_RETRIES:
                raise
    raise AssertionError("unreachable")


def update(ledger: Ledger, load: Callable[[], T], change: Callable[[T], Any]) -> T:
    """Load an aggregate, ``change`` it and save it, from a fresh load on each conflict.
    Returns the aggregate as saved."""

    def work() -> T:
        current = load()
        change(current)
        ledger.save(current)
        return current

    return retrying(work)
