"""RetryPolicy: capped exponential backoff with full jitter inside a deadline (no real waiting)."""

from __future__ import annotations

import pytest

from providers.aliyun import (
    AuthError,
    BusinessError,
    NotFoundError,
    RetryPolicy,
    ServerError,
    ThrottlingError,
    TransportError,
)
from providers.aliyun.retry import is_retryable


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def policy(clock: FakeClock, rand: float = 1.0, **kwargs) -> RetryPolicy:
    return RetryPolicy(sleep=clock.sleep, clock=clock, random=lambda: rand, **kwargs)


def test_backoff_doubles_from_the_base_and_is_capped():
    p = RetryPolicy(base_delay=0.5, max_delay=3.0, random=lambda: 1.0)
    assert [p.backoff(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_full_jitter_scales_the_delay_by_the_random_draw():
    p = RetryPolicy(base_delay=1.0, max_delay=100.0, random=lambda: 0.25)
    assert p.backoff(3) == 1.0


def test_attempts_stop_at_max_attempts():
    clock = FakeClock()
    budget = policy(clock, max_attempts=3, base_delay=0.1).start()
    delays = []
    while True:
        budget.record_attempt()
        delay = budget.next_delay()
        if delay is None:
            break
        delays.append(delay)
        budget.wait(delay)
    assert budget.attempts == 3
    assert delays == [0.1, 0.2]
    assert clock.sleeps == [0.1, 0.2]


def test_no_wait_is_started_that_would_end_past_the_deadline():
    clock = FakeClock()
    budget = policy(clock, max_attempts=10, base_delay=4.0, max_delay=4.0, deadline=10.0).start()
    budget.record_attempt()
    assert budget.next_delay() == 4.0
    clock.now = 7.0
    assert budget.next_delay() is None


def test_server_requested_retry_after_is_a_minimum_wait():
    clock = FakeClock()
    budget = policy(clock, rand=0.0).start()
    budget.record_attempt()
    assert budget.next_delay(retry_after=2.5) == 2.5


def test_retry_after_beyond_the_deadline_means_give_up():
    clock = FakeClock()
    budget = policy(clock, deadline=5.0).start()
    budget.record_attempt()
    assert budget.next_delay(retry_after=30.0) is None


def test_child_budget_shares_the_deadline_but_counts_its_own_attempts():
    clock = FakeClock()
    parent = policy(clock, max_attempts=2, deadline=10.0).start()
    parent.record_attempt()
    parent.record_attempt()
    clock.now = 4.0
    child = parent.child()
    assert child.attempts == 0
    assert child.remaining() == pytest.approx(6.0)


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (ThrottlingError(400, "Throttling.User", "slow"), True),
        (ServerError(500, "InternalError", "x"), True),
        (TransportError("NoResponse", "reset", sent=True), True),
        (AuthError(400, "SignatureDoesNotMatch", "x"), False),
        (NotFoundError(404, "ChangeNotExists", "x"), False),
        (BusinessError(400, "EnvOnChanging", "x"), False),
        (ValueError("x"), False),
    ],
)
def test_only_throttling_server_and_transport_errors_are_retryable(error, retryable):
    assert is_retryable(error) is retryable


@pytest.mark.parametrize(
    "kwargs", [{"max_attempts": 0}, {"deadline": 0}, {"base_delay": -1}, {"max_delay": -1}]
)
def test_nonsense_policies_are_rejected(kwargs):
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)
