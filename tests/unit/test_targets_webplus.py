"""restart_trigger.targets.webplus: Web+ change flags decoded, a restart that waits (not fails)
while another change runs, and whether the latest change may be our restart after a lost
answer."""

from __future__ import annotations

import pytest

from restart_trigger.aliyun import BusinessError, RestartResult
from restart_trigger.backoff import Deadline
from restart_trigger.targets.webplus import WebPlusTarget, env_instances_healthy, webplus_candidates
from restart_trigger.targets.webplus import decode_change as decode_webplus_change

# --- statuses -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "state"),
    [
        ({"ChangeFinished": False}, "running"),
        ({"ChangeFinished": True, "ChangeSucceed": True}, "succeeded"),
        ({"ChangeFinished": True, "ChangeSucceeded": True}, "succeeded"),
        ({"ChangeFinished": True, "ChangeSucceed": False}, "failed"),
        ({"ChangeFinished": False, "ChangeAborted": True}, "failed"),
        ({"ChangeFinished": True, "ChangeTimedout": True}, "failed"),
        ({"ChangeFinished": False, "ChangePaused": True}, "paused"),
        ({"ChangeFinished": "true", "ChangeSucceed": "true"}, "succeeded"),
    ],
)
def test_webplus_change_flags(flags, state):
    assert decode_webplus_change(flags).state == state


def test_webplus_failure_carries_the_change_message():
    status = decode_webplus_change(
        {"ChangeFinished": True, "ChangeSucceed": False, "ChangeMessage": "instance i-1 unhealthy"}
    )
    assert status.message == "instance i-1 unhealthy"


# --- restarting once, waiting while busy ----------------------------------------------------------


class FakeClient:
    def __init__(self, refusals, orders=()):
        self.refusals = list(refusals)
        self.orders = list(orders)
        self.restarts = 0

    def _restart(self):
        self.restarts += 1
        if self.refusals:
            raise self.refusals.pop(0)
        return RestartResult("change-1", "request-1")

    def request_restart(self, op, ident, changes, **_kwargs):
        return self._restart()

    def read(self, op, query, deadline=None):
        assert op.action == "ListRecentChangeOrder", op
        return {"ChangeOrderList": {"ChangeOrder": self.orders}}


def on_changing():
    return BusinessError(400, "EnvOnChanging", "wait until the ongoing change is complete")


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_webplus_waits_while_another_change_runs_then_restarts_once():
    client, clock = FakeClient([on_changing(), on_changing()]), Clock()
    result = WebPlusTarget("we-1").request_restart(
        client, known_change_ids=[], deadline=Deadline(100, clock=clock, sleep=clock.sleep)
    )
    assert result.change_id == "change-1"
    assert client.restarts == 3
    assert len(clock.sleeps) == 2


def test_webplus_other_refusals_fail_at_once():
    refusal = BusinessError(403, "StatusNotAllowedRestart", "only running or stopped")
    client, clock = FakeClient([refusal]), Clock()
    with pytest.raises(BusinessError, match="StatusNotAllowedRestart"):
        WebPlusTarget("we-1").request_restart(
            client, known_change_ids=[], deadline=Deadline(100, clock=clock, sleep=clock.sleep)
        )
    assert client.restarts == 1


def test_webplus_gives_up_when_the_deadline_comes():
    client, clock = FakeClient([on_changing()] * 100), Clock()
    with pytest.raises(BusinessError, match="EnvOnChanging"):
        WebPlusTarget("we-1").request_restart(
            client, known_change_ids=[], deadline=Deadline(20, clock=clock, sleep=clock.sleep)
        )
    assert clock.now <= 20


# --- whether the latest change may be our restart -------------------------------------------------


NOTHING = frozenset()


def status(latest):
    return {"Code": "OK", "EnvStatus": {"LatestChangeId": latest}}


def change(**fields):
    return lambda change_id: {"Code": "OK", "Change": fields}


def never(change_id):
    raise AssertionError("must not be described")


@pytest.mark.parametrize("fields", [{"ActionName": "RestartApp"}, {}])
def test_a_new_latest_change_that_is_a_restart_or_says_nothing_is_a_candidate(fields):
    before = frozenset({"wc-1"})
    assert webplus_candidates(status("wc-9"), change(**fields), before, NOTHING) == ["wc-9"]


def test_a_new_latest_change_of_another_kind_is_not_a_candidate():
    assert webplus_candidates(status("wc-9"), change(ActionName="Apply"), NOTHING, NOTHING) == []


@pytest.mark.parametrize(
    ("env_status", "before", "known"),
    [
        (status("wc-1"), frozenset({"wc-1"}), NOTHING),  # in the snapshot
        (status("wc-1"), NOTHING, frozenset({"wc-1"})),  # known to the caller
        (status(""), NOTHING, NOTHING),  # no change at all
        ({"Code": "OK"}, NOTHING, NOTHING),
    ],
)
def test_a_latest_change_that_is_not_new_is_not_described(env_status, before, known):
    assert webplus_candidates(env_status, never, before, known) == []


# -- the cloud's view of the instances (verify: {cloud: true}) --------------------------------


def test_web_plus_needs_a_running_env_with_only_healthy_instances():
    def env(status="RUNNING", applying=False, **counts):
        app = {"HealthyInstances": 2, **counts}
        return {"EnvStatus": status, "ApplyingChange": applying, "InstanceAppStatus": app}

    assert env_instances_healthy(env()).ready
    assert not env_instances_healthy(env(UnhealthyInstances=1)).ready
    assert not env_instances_healthy(env(status="UPDATING")).ready
    assert not env_instances_healthy(env(applying=True)).ready
    assert not env_instances_healthy(env(HealthyInstances=0)).ready
    view = env_instances_healthy(env(StoppedInstances=1, UnknownInstances=1))
    assert view.detail.startswith("environment RUNNING, 2 of 4 instance(s) healthy, 1 stopped, 1 ")
    assert not env_instances_healthy({}).ready
