"""Lost-answer recovery: only a restart that did not exist before our send can be ours.

``send_until_known`` driven with fake one-attempt callables and a fake clock (nothing waits for
real time), then ``find_earlier_restart``. Which changes are candidates is each kind's rule
(test_targets_edas.py, test_targets_webplus.py, test_targets_sae.py); the same flows through
the client and a fake cloud are in test_aliyun_client.py.
"""

from __future__ import annotations

import pytest

from restart_trigger.aliyun import (
    AuthError,
    DeadlineExceeded,
    InvalidResponseError,
    RestartOutcomeUnknown,
    ServerError,
    ThrottlingError,
    TransportError,
)
from restart_trigger.aliyun.recovery import (
    ANSWERED_SETTLE_WINDOW,
    DEFAULT_SETTLE_WINDOW,
    LOOK_BACKOFF,
    RestartResult,
    send_until_known,
)
from restart_trigger.backoff import Backoff, Deadline

# --- the restart loop -------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Script:
    """Fake one-attempt callables; ``events`` records (time, what) in order."""

    def __init__(self, fake_time, *, sends, looks=(), snapshots=None) -> None:
        self.time = fake_time
        self.sends = list(sends)
        self.looks = list(looks)
        self.snapshots = list(snapshots or [frozenset({"co-old"})])
        self.events: list[tuple[float, str]] = []

    @staticmethod
    def _next(queue):
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return answer()
        return answer

    def snapshot(self):
        self.events.append((self.time.now, "snapshot"))
        return self._next(self.snapshots)

    def send(self):
        self.events.append((self.time.now, "send"))
        return self._next(self.sends)

    def look(self, before):
        self.events.append((self.time.now, "look"))
        assert before == self.snapshots[0] or before in self.snapshots
        return self._next(self.looks)

    def count(self, what):
        return sum(1 for _, event in self.events if event == what)

    def times(self, what):
        return [at for at, event in self.events if event == what]


def run(script, fake_time, *, deadline=600.0, settle_window=DEFAULT_SETTLE_WINDOW, attempts=4):
    backoff = Backoff(first=0.5, cap=4.0, max_attempts=attempts)
    return send_until_known(
        script.send,
        action="RestartApplication",
        target="EDAS application app-1",
        where_to_look="the change orders of EDAS application app-1",
        extract=lambda data: data.get("ChangeOrderId"),
        snapshot=script.snapshot,
        look=script.look,
        tries=backoff.start(Deadline(deadline, clock=fake_time.clock, sleep=fake_time.sleep)),
        settle_window=settle_window,
    )


READ_TIMEOUT = TransportError("NoResponse", "read timed out", sent=True)
ANSWERED_500 = ServerError(500, "InternalError", "try again")
OK = {"ChangeOrderId": "co-new", "RequestId": "r1"}


def test_a_snapshot_is_taken_immediately_before_every_send():
    fake_time = FakeTime()
    throttled = ThrottlingError(400, "Throttling.User", "slow")
    script = Script(fake_time, sends=[throttled, throttled, OK])
    assert run(script, fake_time) == RestartResult("co-new", "r1")
    assert [event for _, event in script.events] == ["snapshot", "send"] * 3
    assert script.count("look") == 0  # a refusal is not looked up


def test_when_the_snapshot_cannot_be_taken_the_restart_is_not_sent():
    fake_time = FakeTime()
    refused = AuthError(403, "Forbidden.RAM", "no ListRecentChangeOrder")
    script = Script(fake_time, sends=[OK], snapshots=[refused])
    with pytest.raises(AuthError):
        run(script, fake_time)
    assert script.count("send") == 0


def test_the_one_new_restart_after_a_lost_answer_is_adopted():
    fake_time = FakeTime()
    script = Script(fake_time, sends=[READ_TIMEOUT], looks=[["co-ours"]])
    assert run(script, fake_time) == RestartResult("co-ours", None)
    assert script.count("send") == 1


def test_two_new_restarts_cannot_be_told_apart_so_none_is_adopted_and_none_resent():
    fake_time = FakeTime()
    script = Script(fake_time, sends=[ANSWERED_500, OK], looks=[["co-a", "co-b"]])
    with pytest.raises(RestartOutcomeUnknown) as excinfo:
        run(script, fake_time)
    error = excinfo.value
    assert error.target == "EDAS application app-1"
    assert error.candidates == ("co-a", "co-b")
    assert "co-a, co-b" in str(error)
    assert "the change orders of EDAS application app-1" in str(error)
    assert script.count("send") == 1


def test_a_restart_applied_late_is_found_on_a_later_look_and_never_resent():
    fake_time = FakeTime()
    script = Script(fake_time, sends=[READ_TIMEOUT, OK], looks=[[], [], ["co-late"]])
    assert run(script, fake_time) == RestartResult("co-late", None)
    assert script.count("send") == 1
    assert script.count("look") == 3


def test_after_a_transport_loss_it_is_resent_only_once_the_whole_settle_window_showed_nothing():
    fake_time = FakeTime()
    script = Script(fake_time, sends=[READ_TIMEOUT, OK], looks=[[]])
    assert run(script, fake_time) == RestartResult("co-new", "r1")
    first, second = script.times("send")
    assert second >= first + DEFAULT_SETTLE_WINDOW
    assert script.times("look")[-1] >= first + DEFAULT_SETTLE_WINDOW
    waits = [b - a for a, b in zip(script.times("look"), script.times("look")[1:], strict=False)]
    assert waits[:5] == [LOOK_BACKOFF.delay(n) for n in range(1, 6)]


def test_the_settle_window_is_measured_from_the_send():
    fake_time = FakeTime()

    def slow_timeout():
        fake_time.now += 30.0  # the read timeout used half the window
        raise READ_TIMEOUT

    script = Script(fake_time, sends=[slow_timeout, OK], looks=[[]])
    run(script, fake_time)
    sent_at = script.times("send")[0]
    looks = script.times("look")
    assert looks[0] == sent_at + 30.0
    assert looks[-1] == sent_at + DEFAULT_SETTLE_WINDOW


def test_after_an_answered_500_with_nothing_new_in_a_short_window_it_is_resent():
    fake_time = FakeTime()
    script = Script(fake_time, sends=[ANSWERED_500, OK], looks=[[]])
    assert run(script, fake_time) == RestartResult("co-new", "r1")
    first, second = script.times("send")
    assert first + ANSWERED_SETTLE_WINDOW <= second < first + DEFAULT_SETTLE_WINDOW
    assert [event for _, event in script.events if event != "look"] == ["snapshot", "send"] * 2


@pytest.mark.parametrize(
    "lost",
    [
        TransportError("NoResponse", "connection reset after sending", sent=True),
        InvalidResponseError(200, "InvalidResponse", "the body is not JSON"),
        DeadlineExceeded("cut at the deadline", sent=True),
    ],
)
def test_every_kind_of_lost_answer_waits_the_whole_settle_window_before_a_resend(lost):
    fake_time = FakeTime()
    script = Script(fake_time, sends=[lost, OK], looks=[[]])
    run(script, fake_time)
    first, second = script.times("send")
    assert second - first >= DEFAULT_SETTLE_WINDOW


def test_the_deadline_caps_the_settle_window():
    fake_time = FakeTime()
    script = Script(fake_time, sends=[READ_TIMEOUT, OK], looks=[[]])
    with pytest.raises(RestartOutcomeUnknown, match="deadline of 20s passed") as excinfo:
        run(script, fake_time, deadline=20.0)
    assert "may still be applied" in str(excinfo.value)
    assert script.count("send") == 1
    assert fake_time.now <= 20.0


def test_a_restart_cut_at_the_deadline_is_not_looked_up_past_it():
    fake_time = FakeTime()

    def cut():
        fake_time.now = 60.0
        raise DeadlineExceeded("the deadline passed during RestartApplication", sent=True)

    script = Script(fake_time, sends=[cut], looks=[["co-ours"]])
    with pytest.raises(RestartOutcomeUnknown, match="deadline") as excinfo:
        run(script, fake_time, deadline=60.0)
    assert "EDAS application app-1" in str(excinfo.value)
    assert script.count("look") == 0


def test_a_look_that_is_refused_ends_in_restart_outcome_unknown():
    fake_time = FakeTime()
    refused = AuthError(403, "Forbidden.RAM", "no")
    script = Script(fake_time, sends=[READ_TIMEOUT], looks=[refused])
    with pytest.raises(RestartOutcomeUnknown, match="Forbidden.RAM") as excinfo:
        run(script, fake_time)
    assert excinfo.value.__cause__ is refused
    assert script.count("look") == 1


def test_a_look_that_fails_now_and_then_is_simply_tried_again():
    fake_time = FakeTime()
    script = Script(fake_time, sends=[READ_TIMEOUT], looks=[ANSWERED_500, ["co-ours"]])
    assert run(script, fake_time).change_id == "co-ours"


def test_looks_still_failing_when_the_window_ends_rule_nothing_out_so_nothing_is_resent():
    fake_time = FakeTime()
    script = Script(fake_time, sends=[ANSWERED_500, OK], looks=[[], ServerError(502, "Bad", "x")])
    with pytest.raises(RestartOutcomeUnknown, match="the last look failed: Bad"):
        run(script, fake_time)
    assert script.count("send") == 1


def test_a_throttled_last_look_is_repeated_past_the_window_before_a_resend():
    fake_time = FakeTime()
    throttled = ThrottlingError(400, "Throttling.User", "slow down")
    script = Script(fake_time, sends=[ANSWERED_500, OK], looks=[[], throttled, throttled, []])
    assert run(script, fake_time).change_id == "co-new"
    assert script.count("look") == 4 and script.count("send") == 2


def test_a_smaller_settle_window_resends_sooner():
    fake_time = FakeTime()
    script = Script(fake_time, sends=[ANSWERED_500, OK], looks=[[]])
    assert run(script, fake_time, settle_window=5.0).change_id == "co-new"
    first, second = script.times("send")
    assert 5.0 <= second - first < 10.0


def test_the_default_settle_window_outlasts_the_read_timeout_plus_slack():
    from restart_trigger.aliyun.transport import DEFAULT_TIMEOUT

    assert DEFAULT_SETTLE_WINDOW >= DEFAULT_TIMEOUT[1] + 20


# --- what an unknown outcome carries, and how a later update resolves it -----------------------


class Recorder:
    """A SEND_RECORD that keeps what it was told."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def sending(self, snapshot, sent_at):
        self.events.append(("sending", snapshot, sent_at))

    def accepted(self, change_id):
        self.events.append(("accepted", change_id))

    def not_accepted(self):
        self.events.append(("not_accepted",))


def run_recorded(script, fake_time, recorder, **kwargs):
    from restart_trigger.aliyun.recovery import SEND_RECORD

    token = SEND_RECORD.set(recorder)
    try:
        return send_until_known(
            script.send,
            action="RestartApplication",
            target="EDAS application app-1",
            where_to_look="the change orders",
            extract=lambda data: data.get("ChangeOrderId"),
            snapshot=script.snapshot,
            look=script.look,
            tries=Backoff(first=0.5, cap=4.0, max_attempts=4).start(
                Deadline(
                    kwargs.get("deadline", 600.0), clock=fake_time.clock, sleep=fake_time.sleep
                )
            ),
            wall=lambda: 1_000_000.0 + fake_time.now,
        )
    finally:
        SEND_RECORD.reset(token)


def test_each_send_is_recorded_before_it_goes_out_and_its_change_id_once_answered():
    fake_time = FakeTime()
    recorder = Recorder()
    script = Script(fake_time, sends=[OK])
    run_recorded(script, fake_time, recorder)
    assert recorder.events == [
        ("sending", frozenset({"co-old"}), 1_000_000.0),
        ("accepted", "co-new"),
    ]


def test_a_refused_send_is_recorded_as_not_accepted_and_a_found_one_as_accepted():
    fake_time = FakeTime()
    recorder = Recorder()
    throttled = ThrottlingError(400, "Throttling.User", "slow")
    script = Script(fake_time, sends=[throttled, READ_TIMEOUT], looks=[["co-ours"]])
    assert run_recorded(script, fake_time, recorder).change_id == "co-ours"
    assert [e[0] for e in recorder.events] == ["sending", "not_accepted", "sending", "accepted"]
    assert recorder.events[-1] == ("accepted", "co-ours")


def test_a_send_that_settled_with_nothing_found_is_recorded_as_not_accepted():
    # An answered 5xx, then a whole window with no new restart: that send did not land. The
    # journal must forget it, or the next update would wait a settle window for it again.
    fake_time = FakeTime()
    recorder = Recorder()
    script = Script(fake_time, sends=[ANSWERED_500, OK], looks=[[]])
    assert run_recorded(script, fake_time, recorder).change_id == "co-new"
    assert [e[0] for e in recorder.events] == ["sending", "not_accepted", "sending", "accepted"]


def test_an_unknown_outcome_carries_the_snapshot_before_the_send_its_time_and_window():
    fake_time = FakeTime()
    script = Script(fake_time, sends=[READ_TIMEOUT], looks=[[]])
    with pytest.raises(RestartOutcomeUnknown) as excinfo:
        run_recorded(script, fake_time, Recorder(), deadline=20.0)
    error = excinfo.value
    assert error.snapshot == frozenset({"co-old"})
    assert error.sent_at == 1_000_000.0
    assert error.settle_window == DEFAULT_SETTLE_WINDOW


def test_no_send_begins_once_the_process_was_asked_to_stop():
    from restart_trigger.stopping import STOP, EngineGone

    fake_time = FakeTime()
    recorder = Recorder()
    script = Script(fake_time, sends=[OK])
    STOP.request("the engine went away")
    try:
        with pytest.raises(EngineGone):
            run_recorded(script, fake_time, recorder)
    finally:
        STOP.reset()
    assert script.count("send") == 0 and recorder.events == []


def resolve(looks, *, sent_ago, window=DEFAULT_SETTLE_WINDOW, deadline=600.0):
    from restart_trigger.aliyun.recovery import find_earlier_restart

    fake_time = FakeTime()
    script = Script(fake_time, sends=[OK], looks=looks)
    found = find_earlier_restart(
        script.look,
        before=frozenset({"co-old"}),
        sent_at=1_000_000.0,
        settle_window=window,
        deadline=Deadline(deadline, clock=fake_time.clock, sleep=fake_time.sleep),
        action="RestartApplication",
        target="EDAS application app-1",
        where_to_look="the change orders",
        wall=lambda: 1_000_000.0 + sent_ago + fake_time.now,
    )
    return found, script, fake_time


def test_an_earlier_restart_that_shows_up_absent_from_its_snapshot_is_adopted():
    found, script, _ = resolve([["co-ours"]], sent_ago=3600)
    assert found == "co-ours" and script.count("send") == 0


def test_an_earlier_send_with_nothing_new_after_its_window_means_restart_anew_at_once():
    found, script, fake_time = resolve([[]], sent_ago=3600)
    assert found is None and script.count("look") == 1 and fake_time.now == 0


def test_the_window_of_an_earlier_send_is_waited_out_from_that_send_not_from_now():
    found, script, fake_time = resolve([[]], sent_ago=50, window=60)
    assert found is None
    assert 10 <= fake_time.now < 20  # the 10 s left of the window, not a whole new one


def test_several_new_restarts_since_an_earlier_send_adopt_none_and_keep_it_unknown():
    with pytest.raises(RestartOutcomeUnknown) as excinfo:
        resolve([["co-a", "co-b"]], sent_ago=3600)
    assert excinfo.value.candidates == ("co-a", "co-b")
    assert excinfo.value.snapshot == frozenset({"co-old"})
