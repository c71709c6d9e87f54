"""One deadline and one backoff for every wait and retry loop in restart-trigger.

* :class:`Deadline` is the single bound of one update: the trigger's ``timeout`` becomes one
  Deadline, and the runner, the targets' "wait while another change runs" loop and the cloud
  client's retries all measure against that same object. It also owns the clock and the
  sleep, so tests inject both in one place and never really wait.
* :class:`Backoff` says how long to wait between tries: ``first`` seconds, multiplied by
  ``factor`` after each try, capped at ``cap``; with ``jitter`` the delay is drawn uniformly
  from ``[0, delay)`` ("full jitter", as AWS and botocore do for retries of the same call).
* :meth:`Backoff.start` gives :class:`Tries`: the attempts of one loop under a Deadline,
  answering "may I try again, and after how long?" (never a wait that would end past the
  deadline, never more than ``max_attempts``).

Pure: imports only the standard library.
"""

from __future__ import annotations

import math
import random as _random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


class Deadline:
    """A point in (monotonic) time past which no new attempt or wait begins.

    ``Deadline(seconds)`` starts now.
    """

    def __init__(
        self,
        seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if isinstance(seconds, bool) or not seconds > 0:
            raise ValueError(f"a deadline needs a positive number of seconds, got {seconds!r}")
        self.seconds = float(seconds)
        self.clock = clock
        self._sleep = sleep
        self.at = clock() + self.seconds

    def remaining(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self.at - self.clock())

    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def allows(self, delay: float) -> bool:
        """Whether a wait of ``delay`` seconds would still end before the deadline."""
        return delay < self.remaining()

    def sleep(self, delay: float) -> None:
        """Wait ``delay`` seconds, but never past the deadline."""
        delay = min(delay, self.remaining())
        if delay > 0:
            self._sleep(delay)

    def __repr__(self) -> str:
        return f"Deadline({self.seconds:g}s, {self.remaining():.1f}s left)"


@dataclass(frozen=True)
class Backoff:
    """How long to wait between tries of one loop.

    Attributes:
        first: the delay before the second try, in seconds (before jitter).
        factor: each later delay is the previous one times this.
        cap: no single delay is longer than this.
        jitter: draw each delay uniformly from ``[0, delay)`` (for retries that many clients
            may send at once); without it the delays are exact (for status polling).
        max_attempts: tries in all, the first included; ``None`` for "until the deadline".
        random: the jitter's source of floats in ``[0, 1)``; injectable for tests.
    """

    first: float
    factor: float = 2.0
    cap: float = 20.0
    jitter: bool = False
    max_attempts: int | None = None
    random: Callable[[], float] = field(default=_random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.first < 0 or self.cap < 0 or self.factor < 1:
            raise ValueError("Backoff needs first >= 0, cap >= 0 and factor >= 1")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("Backoff.max_attempts must be at least 1 (or None)")

    def delay(self, retry_number: int) -> float:
        """The wait before retry ``retry_number`` (1 for the first retry)."""
        exponent = max(0, retry_number - 1)
        try:
            grown = self.first * self.factor**exponent
        except OverflowError:  # a long poll: 1.5 ** 1750 no longer fits in a float
            grown = math.inf if self.first > 0 else 0.0
        ceiling = min(self.cap, grown)
        return self.random() * ceiling if self.jitter else ceiling

    def start(self, deadline: Deadline) -> Tries:
        """Begin one loop under ``deadline``."""
        return Tries(self, deadline)


class Tries:
    """The attempts of one loop: count them, and ask for the wait before the next."""

    def __init__(self, backoff: Backoff, deadline: Deadline) -> None:
        self.backoff = backoff
        self.deadline = deadline
        self.attempts = 0

    def record_attempt(self) -> None:
        """Count one attempt (call before each try)."""
        self.attempts += 1

    def next_delay(self, at_least: float | None = None) -> float | None:
        """The wait before the next try, or ``None`` when the loop must stop: attempts used up,
        or the wait would end at or past the deadline. ``at_least`` (a server's retry-after)
        is honoured as a minimum."""
        limit = self.backoff.max_attempts
        if limit is not None and self.attempts >= limit:
            return None
        delay = self.backoff.delay(max(1, self.attempts))
        if at_least is not None:
            delay = max(delay, at_least)
        return delay if self.deadline.allows(delay) else None

    def wait(self, delay: float) -> None:
        self.deadline.sleep(delay)

    def sibling(self, backoff: Backoff | None = None) -> Tries:
        """A loop with its own attempt count under the same deadline."""
        return Tries(backoff or self.backoff, self.deadline)
