"""Commands that load an aggregate, change it and save it, again on a version conflict.

Two writers of one aggregate both load version *n*; the second ``save()`` fails with an
``IntegrityError``. Loading afresh and trying again (the state decides anew each time) is what
every service does, up to :data:`VERSION_CONFLICT_RETRIES` times.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from eventsourcing.persistence import IntegrityError

if TYPE_CHECKING:
    from ledger.application import Ledger

T = TypeVar("T")
VERSION_CONFLICT_RETRIES = 50
"""Attempts before a version conflict on one aggregate is given up (with jittered back-off)."""


def back_off(attempt: int) -> None:
    """A short random pause before attempt ``attempt + 1``, longer as attempts go on."""
    time.sleep(random.uniform(0, min(0.05, 0.002 * attempt)))


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
