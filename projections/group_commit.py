"""Group commit: the rows of many concurrent callers written in one transaction, each caller
returning only once the transaction holding its rows has committed.

No thread of its own: the first caller to find nothing being written writes the oldest batch
(its own and whatever joined it) while the others wait; the rows that arrive meanwhile form the
next batch, written as soon as that commit is done. Alone, a caller writes at once; under load,
one commit (one fsync) serves many callers. A failed write raises in every caller of its batch.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

Row = TypeVar("Row")


class _Batch(Generic[Row]):
    __slots__ = ("done", "error", "rows")

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.done = False
        self.error: BaseException | None = None


class GroupCommit(Generic[Row]):
    """Writes callers' rows with ``write`` (one transaction per call), ``batch_max`` at most."""

    def __init__(self, write: Callable[[list[Row]], None], batch_max: int = 500) -> None:
        self._write = write
        self._batch_max = batch_max
        self._queue: deque[_Batch[Row]] = deque()
        self._writing = False
        self._changed = threading.Condition()

    def write(self, rows: list[Row]) -> None:
        """Write ``rows`` with others'; returns when they are committed, raises if they failed."""
        with self._changed:
            if not self._queue or len(self._queue[-1].rows) >= self._batch_max:
                self._queue.append(_Batch())
            batch = self._queue[-1]
            batch.rows += rows
            while not batch.done:
                if not self._writing and self._queue and self._queue[0] is batch:
                    self._writing = True
                    self._queue.popleft()
                    break
                self._changed.wait()
        if not batch.done:  # this caller writes the batch
            try:
                self._write(batch.rows)
            except BaseException as error:
                batch.error = error
            finally:
                with self._changed:
                    batch.done = True
                    self._writing = False
                    self._changed.notify_all()
        if batch.error is not None:
            raise batch.error
