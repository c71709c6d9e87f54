"""The emulator's clock: wall time plus an offset that tests can move forward.

Every time the emulator judges (signature skew, change progress, credential and OIDC token
expiry, metadata token expiry) comes from one :class:`Clock`. ``POST /__emulator__/clock``
advances it, so a test can let temporary credentials expire without sleeping;
``DELETE /__emulator__/state`` puts it back to wall time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Clock:
    """A callable returning epoch seconds: ``base()`` plus an adjustable offset."""

    def __init__(self, base: Callable[[], float] = time.time) -> None:
        self._base = base
        self._offset_s = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            offset = self._offset_s
        return self._base() + offset

    @property
    def offset_s(self) -> float:
        """How far ahead of ``base`` the clock runs."""
        with self._lock:
            return self._offset_s

    def advance(self, seconds: float) -> None:
        """Move the clock forward (never backwards: expiry must not be undone)."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset_s += seconds

    def reset(self) -> None:
        """Back to wall time."""
        with self._lock:
            self._offset_s = 0.0


def as_clock(clock: Callable[[], float] | Clock | None) -> Clock:
    """Wrap a plain time function (tests pass fakes) in a :class:`Clock`."""
    if isinstance(clock, Clock):
        return clock
    return Clock(clock or time.time)
