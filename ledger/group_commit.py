"""Doing more per transaction when many callers write at once: group commit of concurrent
commands, and fewer garbage-collector passes while bulk runs go."""

from __future__ import annotations

import gc
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Generic, TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")

_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often while bulk runs are going: a chunk allocates
    tens of thousands of short-lived objects (freed by reference counting), and collections
    triggered by their number scan the chunk's live agents again and again (about a sixth of a
    campaign's CPU). Restored when the last bulk run of the process ends."""
    global _gc_users, _gc_saved
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(max(_gc_saved[0], 50_000), *_gc_saved[1:])
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_saved)


class CommandGroup(Generic[Item, Outcome]):
    """Group commit of concurrent commands: the first caller to find no batch being written
    writes the oldest one (its own command and those that joined it) while the others wait;
    commands arriving meanwhile form the next batch. Each caller gets its own outcome."""

    BATCH_MAX = 256

    def __init__(
        self,
        run_batch: Callable[[Sequence[Item]], list[Outcome | BaseException]],
    ) -> None:
        self._run_batch = run_batch
        self._queue: deque[_Batch[Item, Outcome]] = deque()
        self._writing = False
        self._changed = threading.Condition()

    def run(self, item: Item) -> Outcome:
        with self._changed:
            if not self._queue or len(self._queue[-1].items) >= self.BATCH_MAX:
                self._queue.append(_Batch())
            batch = self._queue[-1]
            index = len(batch.items)
            batch.items.append(item)
            while batch.results is None and batch.error is None:
                if not self._writing and self._queue and self._queue[0] is batch:
                    self._writing = True
                    self._queue.popleft()
                    break
                self._changed.wait()
        if batch.results is None and batch.error is None:  # this caller writes the batch
            try:
                batch.results = self._run_batch(batch.items)
            except BaseException as error:
                batch.error = error
            finally:
                with self._changed:
                    self._writing = False
                    self._changed.notify_all()
        if batch.error is not None:
            raise batch.error
        assert batch.results is not None
        outcome = batch.results[index]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


class _Batch(Generic[Item, Outcome]):
    __slots__ = ("error", "items", "results")

    def __init__(self) -> None:
        self.items: list[Item] = []
        self.results: list[Outcome | BaseException] | None = None
        self.error: BaseException | None = None
