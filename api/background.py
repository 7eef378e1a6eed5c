"""Work an API process runs in the background (campaign imports, rebuilds), joined at shutdown.

Each job records its own progress in the store (a campaign run, a view's position), so a job cut
short by a restart is seen as interrupted and resumes when started again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Background:
    """Background threads of one process, by name (one job of a name at a time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}

    def start(self, name: str, work: Callable[[], None]) -> bool:
        """Start ``work`` unless a job called ``name`` is still running; True when started."""
        with self._lock:
            running = self._threads.get(name)
            if running is not None and running.is_alive():
                return False
            thread = threading.Thread(target=work, name=name, daemon=True)
            self._threads[name] = thread
            thread.start()
            return True

    def running(self, name: str) -> bool:
        with self._lock:
            thread = self._threads.get(name)
            return thread is not None and thread.is_alive()

    def join(self, timeout: float) -> None:
        """At shutdown: let running jobs reach a point where they can resume."""
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(timeout)
