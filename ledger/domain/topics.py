"""Stored topics that do not move when a module does.

The event store records each event's class as a topic (``module:Class.Event``), and the audit
chain hashes it. Topics are part of the stored format, so each aggregate names its own once,
whatever package its code lives in today.
"""

from __future__ import annotations

from eventsourcing.domain import CanMutateAggregate
from eventsourcing.utils import register_topic


def pin_topics(module: str, *aggregates: type) -> None:
    """Store ``aggregates`` and their nested event classes under ``module``.

    Sets each class's ``TOPIC`` (what the library writes) and registers it (what the library
    resolves when it reads), so events recorded before and after a move read the same.
    """
    for aggregate in aggregates:
        classes = [aggregate] + [
            member
            for member in vars(aggregate).values()
            if isinstance(member, type) and issubclass(member, CanMutateAggregate)
        ]
        for cls in classes:
            # An event class held elsewhere is stored by its name on the aggregate too.
            name = (
                cls.__qualname__ if cls is aggregate else f"{aggregate.__qualname__}.{cls.__name__}"
            )
            topic = f"{module}:{name}"
            cls.TOPIC = topic  # type: ignore[attr-defined]
            register_topic(topic, cls)
