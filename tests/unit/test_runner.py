"""runner: one bounded pool per process, a rolling window per trigger, nothing started after
the deadline, and failure texts that are safe to print."""

from __future__ import annotations

import threading
import time

from restart_trigger import runner
from restart_trigger.aliyun import RestartResult
from restart_trigger.backoff import Deadline
from restart_trigger.runner import NOT_STARTED, Outcome, failure_text, run_restarts
from restart_trigger.targets import SUCCEEDED, ChangeStatus
from restart_trigger.targets.edas import EdasTarget


class CountingTarget(EdasTarget):
    """An EDAS target whose restart takes a moment and counts how many run at once."""

    lock = threading.Lock()
    now = 0
    peak = 0
    started: list[str] = []

    def send_restart(self, client, known_change_ids):
        cls = type(self)
        with cls.lock:
            cls.now += 1
            cls.peak = max(cls.peak, cls.now)
            cls.started.append(self.app_id)
        time.sleep(0.02)
        with cls.lock:
            cls.now -= 1
        return RestartResult(f"co-{self.app_id}", "req")

    def status(self, client, change_id):
        return ChangeStatus(SUCCEEDED, "EDAS status 2 (success)")


def fresh(n):
    CountingTarget.now = CountingTarget.peak = 0
    CountingTarget.started = []
    return [CountingTarget(app_id=f"app-{i}") for i in range(n)]


def test_max_parallel_is_a_rolling_window():
    targets = fresh(12)
    outcomes = run_restarts(
        None, targets, known_change_ids={}, wait=True, deadline=Deadline(60), max_parallel=3
    )
    assert [o.change_id for o in outcomes] == [f"co-app-{i}" for i in range(12)]
    assert CountingTarget.peak <= 3
    assert not any(o.failed for o in outcomes)


def test_the_process_wide_cap_bounds_threads_whatever_the_target_count(monkeypatch):
    monkeypatch.setattr(runner, "_pool", None)
    monkeypatch.setenv("RESTART_TRIGGER_MAX_CONCURRENCY", "4")
    targets = fresh(40)
    run_restarts(None, targets, known_change_ids={}, wait=False, deadline=Deadline(60))
    assert CountingTarget.peak <= 4
    assert runner._shared_pool()._max_workers == 4
    monkeypatch.setattr(runner, "_pool", None)


def test_the_cap_has_a_documented_default_and_ignores_nonsense():
    assert runner.max_concurrent_restarts({}) == runner.DEFAULT_MAX_CONCURRENT_RESTARTS == 64
    assert runner.max_concurrent_restarts({"RESTART_TRIGGER_MAX_CONCURRENCY": "0"}) == 64
    assert runner.max_concurrent_restarts({"RESTART_TRIGGER_MAX_CONCURRENCY": "x"}) == 64
    assert runner.max_concurrent_restarts({"RESTART_TRIGGER_MAX_CONCURRENCY": "8"}) == 8


def test_no_target_starts_after_the_deadline():
    targets = fresh(3)
    clock = [0.0]
    deadline = Deadline(1, clock=lambda: clock[0])
    clock[0] = 2.0
    outcomes = run_restarts(None, targets, known_change_ids={}, wait=True, deadline=deadline)
    assert CountingTarget.started == []
    assert [o.error for o in outcomes] == [NOT_STARTED] * 3


def test_failure_texts_show_control_characters_as_escapes():
    outcome = Outcome("edas:app\x1b[2J", change_id="co-\x07", error="refused: \x1b]0;owned\x07")
    text = failure_text([outcome])
    assert "\x1b" not in text and "\x07" not in text
    assert "edas:app\\x1b[2J" in text and "co-\\x07" in text


def test_client_log_lines_show_control_characters_as_escapes(caplog):
    from restart_trigger.aliyun import recovery

    with caplog.at_level("INFO", logger=recovery.__name__):
        recovery.log.info("accepted for %s: change %s", "app", "co-\x1b]0;pwned\x07")
    (record,) = caplog.records
    assert record.getMessage() == "accepted for app: change co-\\x1b]0;pwned\\x07"


def test_a_timeout_while_a_change_waits_for_confirmation_says_so():
    from restart_trigger.targets import PAUSED

    class Paused(CountingTarget):
        def status(self, client, change_id):
            return ChangeStatus(PAUSED, "EDAS status 8 (waiting for manual confirmation)")

    clock = [0.0]

    def sleep(seconds):
        clock[0] += seconds

    deadline = Deadline(30, clock=lambda: clock[0], sleep=sleep)
    (outcome,) = run_restarts(
        None, [Paused(app_id="app-1")], known_change_ids={}, wait=True, deadline=deadline
    )
    assert "is waiting for someone" in outcome.error
    assert "manual confirmation" in outcome.error and "co-app-1" in outcome.error
