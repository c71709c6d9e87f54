"""Stopping a provider whose engine is gone: no new target, no new send, then exit.

A provider process outlives its engine when the CLI is killed (``kill -9`` of the CLI's
process group, as CI runners do to a cancelled job: Pulumi starts every plugin in a process
group of its own). Left alone, the orphan would go on with the rollout while the user runs
``pulumi cancel`` and the next ``pulumi up``, and every target would restart twice.

``provider_server.watch_engine`` (guarded, inside the dynamic-provider server only) calls
:func:`request` when the engine is gone. From then on:

* the runner starts no further target and stops waiting (``requested``);
* no restart is sent any more: :func:`sending` refuses to begin a send;
* once the sends in flight have answered (their change ids are in the send journal,
  ``journal``), the watcher exits the process. The next ``pulumi up`` (after ``pulumi
  cancel``) finds those change ids in the journal and waits for them instead of restarting.

Pure: no pulumi import. One process-wide instance, :data:`STOP`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class EngineGone(Exception):
    """A send was about to begin after the engine went away."""


class Stop:
    """Whether this process was asked to stop, and the restart sends still in flight."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._reason: str | None = None
        self._in_flight = 0

    @property
    def reason(self) -> str | None:
        return self._reason

    def requested(self) -> bool:
        return self._reason is not None

    def request(self, reason: str) -> None:
        with self._cond:
            if self._reason is None:
                self._reason = reason
            self._cond.notify_all()

    @contextmanager
    def sending(self) -> Iterator[None]:
        """Around one restart send: refused (``EngineGone``) once a stop was requested."""
        with self._cond:
            if self._reason is not None:
                raise EngineGone(self._reason)
            self._in_flight += 1
        try:
            yield
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()

    def in_flight(self) -> int:
        with self._cond:
            return self._in_flight

    def wait_idle(self, timeout: float, clock: Callable[[], float] = time.monotonic) -> bool:
        """Wait until no send is in flight (True) or ``timeout`` seconds passed (False)."""
        end = clock() + timeout
        with self._cond:
            while self._in_flight:
                left = end - clock()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def reset(self) -> None:
        """For tests: forget a request."""
        with self._cond:
            self._reason = None
            self._cond.notify_all()


STOP = Stop()
