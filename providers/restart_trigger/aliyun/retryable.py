"""Retry policy: capped exponential backoff with full jitter, inside an overall deadline.

``RetryPolicy`` holds the knobs; ``RetryPolicy.start()`` returns a ``RetryBudget`` that tracks
one logical call (its attempts and the time spent) and answers "may I try again, and after how
long?". Clock, sleep and random source are injectable so tests never wait.

What is retried is decided by ``is_retryable``: throttling (``Throttling*`` codes, HTTP 429,
``x-acs-retry-after``), server errors (5xx, ``InternalError``, ``ServiceUnavailable``) and
transport failures. Other 4xx errors are final.
"""

from __future__ import annotations

import random as _random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import AliyunError, ServerError, ThrottlingError, TransportError


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry one call.

    Attributes:
        max_attempts: total attempts per call, first one included (default 5).
        base_delay: seconds before the first retry, before jitter (default 0.5).
        max_delay: cap on any single delay in seconds (default 20).
        deadline: seconds after the first attempt starts past which no new attempt or wait
            begins (default 120).
        sleep: function that waits N seconds (default ``time.sleep``).
        clock: monotonic clock in seconds (default ``time.monotonic``).
        random: returns a float in [0, 1) for jitter (default ``random.random``).
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    deadline: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    random: Callable[[], float] = field(default=_random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.deadline <= 0:
            raise ValueError("RetryPolicy delays must be >= 0 and deadline > 0")

    def backoff(self, retry_number: int) -> float:
        """Full-jitter delay before retry ``retry_number`` (1 for the first retry).

        ``random() * min(max_delay, base_delay * 2 ** (retry_number - 1))``.
        """
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(0, retry_number - 1)))
        return self.random() * ceiling

    def start(self) -> RetryBudget:
        """Begin tracking a new logical call."""
        return RetryBudget(self)


class RetryBudget:
    """Attempts and elapsed time of one logical call under a ``RetryPolicy``."""

    def __init__(self, policy: RetryPolicy, started: float | None = None) -> None:
        self.policy = policy
        self.started = policy.clock() if started is None else started
        self.attempts = 0

    def child(self) -> RetryBudget:
        """A budget with its own attempt count that shares this budget's deadline."""
        return RetryBudget(self.policy, self.started)

    def elapsed(self) -> float:
        """Seconds since the call started."""
        return self.policy.clock() - self.started

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.policy.deadline - self.elapsed())

    def record_attempt(self) -> None:
        """Count one attempt (call before sending)."""
        self.attempts += 1

    def next_delay(self, retry_after: float | None = None) -> float | None:
        """Delay before the next attempt, or ``None`` if attempts or time are exhausted.

        A server-requested ``retry_after`` (seconds) is honoured as a minimum wait.
        """
        if self.attempts >= self.policy.max_attempts:
            return None
        delay = self.policy.backoff(self.attempts)
        if retry_after is not None:
            delay = max(delay, retry_after)
        if delay >= self.remaining():
            return None
        return delay

    def wait(self, delay: float) -> None:
        """Sleep ``delay`` seconds using the policy's sleep function."""
        if delay > 0:
            self.policy.sleep(delay)


def is_retryable(error: BaseException) -> bool:
    """True for errors worth another attempt of an idempotent call.

    Throttling, server errors and transport failures are retryable; authentication,
    not-found and business errors are not.
    """
    return isinstance(error, ThrottlingError | ServerError | TransportError)


def retry_after_of(error: BaseException) -> float | None:
    """The server-requested wait carried by ``error``, if any."""
    return error.retry_after if isinstance(error, AliyunError) else None
