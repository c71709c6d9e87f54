"""Which failed attempts are retried, which may have been accepted, and how a loop waits or
gives up (under one Deadline, never really waiting)."""

from __future__ import annotations

import pytest

from restart_trigger.aliyun import (
    AuthError,
    BusinessError,
    InvalidResponseError,
    NotFoundError,
    ServerError,
    ThrottlingError,
    TransportError,
)
from restart_trigger.aliyun.retryable import (
    is_retryable,
    may_have_been_accepted,
    retry_after_of,
    wait_before_retry,
)
from restart_trigger.backoff import Backoff, Deadline


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def tries(clock: FakeClock, seconds: float = 60.0, **backoff):
    options = {"first": 0.5, "cap": 4.0, "max_attempts": 5, **backoff}
    return Backoff(**options).start(Deadline(seconds, clock=clock, sleep=clock.sleep))


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (ThrottlingError(400, "Throttling.User", "slow"), True),
        (ServerError(500, "InternalError", "x"), True),
        (InvalidResponseError(200, "InvalidResponse", "x"), True),
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
    ("error", "maybe"),
    [
        (TransportError("NoResponse", "read timed out", sent=True), True),
        (TransportError("ConnectionNotEstablished", "refused", sent=False), False),
        (ServerError(500, "InternalError", "x"), True),
        (ServerError(502, "HTTP502", "x"), True),
        (ServerError(503, "ServiceUnavailable", "x"), False),
        (ServerError(500, "ServiceUnavailable", "x"), False),
        (ThrottlingError(503, "ServiceUnavailable", "x", retry_after=1.0), False),
        (ThrottlingError(400, "Throttling", "x"), False),
        (BusinessError(400, "EnvOnChanging", "x"), False),
    ],
)
def test_only_an_unanswered_send_or_a_5xx_other_than_503_may_have_been_accepted(error, maybe):
    assert may_have_been_accepted(error) is maybe


def test_the_server_requested_wait_is_read_from_aliyun_errors_only():
    assert retry_after_of(ThrottlingError(400, "Throttling", "x", retry_after=2.5)) == 2.5
    assert retry_after_of(ServerError(500, "InternalError", "x")) is None
    assert retry_after_of(ValueError("x")) is None


def test_a_final_error_is_raised_at_once_without_waiting():
    clock = FakeClock()
    loop = tries(clock)
    loop.record_attempt()
    error = BusinessError(400, "EnvOnChanging", "x")
    with pytest.raises(BusinessError):
        wait_before_retry(loop, error)
    assert clock.sleeps == []


def test_a_retryable_error_waits_the_backoff_then_gives_up_after_max_attempts():
    clock = FakeClock()
    loop = tries(clock, max_attempts=3)
    error = ServerError(500, "InternalError", "x")
    loop.record_attempt()
    wait_before_retry(loop, error)
    loop.record_attempt()
    wait_before_retry(loop, error)
    loop.record_attempt()
    with pytest.raises(ServerError):
        wait_before_retry(loop, error)
    assert clock.sleeps == [0.5, 1.0]


def test_the_server_requested_wait_is_a_minimum():
    clock = FakeClock()
    loop = tries(clock)
    loop.record_attempt()
    wait_before_retry(loop, ThrottlingError(400, "Throttling", "x", retry_after=2.5))
    assert clock.sleeps == [2.5]


def test_no_wait_is_started_that_would_end_past_the_deadline():
    clock = FakeClock()
    loop = tries(clock, seconds=10.0, first=4.0, max_attempts=10)
    error = ServerError(500, "InternalError", "x")
    loop.record_attempt()
    wait_before_retry(loop, error)
    clock.now = 7.0
    loop.record_attempt()
    with pytest.raises(ServerError):
        wait_before_retry(loop, error)
    assert clock.sleeps == [4.0]


def test_a_retry_after_beyond_the_deadline_means_give_up():
    clock = FakeClock()
    loop = tries(clock, seconds=5.0)
    loop.record_attempt()
    with pytest.raises(ThrottlingError):
        wait_before_retry(loop, ThrottlingError(400, "Throttling", "x", retry_after=30.0))
    assert clock.sleeps == []
