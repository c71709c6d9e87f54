"""restart_trigger.backoff: a Tries loop's sibling shares its Deadline, Backoff's full jitter,
and the values Backoff and Deadline refuse (never really waiting)."""

from __future__ import annotations

import pytest

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


def test_a_sibling_loop_shares_the_deadline_but_counts_its_own_attempts():
    clock = FakeClock()
    parent = tries(clock, seconds=10.0, max_attempts=2)
    parent.record_attempt()
    parent.record_attempt()
    clock.now = 4.0
    child = parent.sibling()
    assert child.attempts == 0
    assert child.deadline.remaining() == pytest.approx(6.0)


def test_full_jitter_scales_the_wait_by_the_random_draw():
    backoff = Backoff(first=1.0, cap=100.0, jitter=True, random=lambda: 0.25)
    assert backoff.delay(3) == 1.0


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"first": -1}, {"cap": -1}, {"factor": 0.5}],
)
def test_nonsense_backoffs_are_rejected(kwargs):
    with pytest.raises(ValueError):
        Backoff(**{"first": 0.5, **kwargs})


def test_a_deadline_needs_a_positive_number_of_seconds():
    with pytest.raises(ValueError):
        Deadline(0)
