"""restart_trigger.targets.sae: SAE's strategy in words, every status and sub-status, the busy
codes it waits out before restarting once, and which change orders may be our restart after a
lost answer."""

from __future__ import annotations

import pytest

from restart_trigger.aliyun import BusinessError, RestartResult
from restart_trigger.backoff import Deadline
from restart_trigger.targets.sae import (
    BUSY_CODES,
    SaeTarget,
    decode_change_order,
    groups_running,
    sae_candidates,
)
from restart_trigger.validation import UNKNOWN

APP = "0099b7be-5f5b-4512-a7fc-56049ef1a2b3"


# --- preview wording ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "text"),
    [
        ({}, "SAE's default ready instances"),
        ({"min_ready_instances": -1}, "SAE-recommended ready instances (25%)"),
        ({"min_ready_instances": 0}, "no instance kept ready (interruption allowed)"),
        ({"min_ready_instances": 2.0}, "keep 2 instance(s) ready"),
        ({"min_ready_instances": UNKNOWN}, "keep (known after apply) instances ready"),
        ({"min_ready_instance_ratio": 50}, "keep 50% of instances ready"),
        ({"min_ready_instance_ratio": -1, "min_ready_instances": 3}, "keep 3 instance(s) ready"),
        (
            {"min_ready_instance_ratio": 50, "min_ready_instances": 3},
            "keep 50% of instances ready, (over min_ready_instances 3)",
        ),
        (
            {"auto_enable_application_scaling_rule": True},
            "SAE's default ready instances, auto scaling re-enabled: true",
        ),
    ],
)
def test_sae_strategy_in_words(entry, text):
    assert SaeTarget.strategy({"kind": "sae", "app_id": APP, **entry}) == text


# --- statuses -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "state", "words"),
    [
        (0, "running", "preparing"),
        (1, "running", "running"),
        (2, "succeeded", "succeeded"),
        (3, "failed", "failed"),
        (6, "failed", "terminated"),
        (8, "paused", "manual confirmation"),
        (9, "running", "automatic batch"),
        (10, "failed", "system exception"),
        (11, "paused", "pending approval"),
        (12, "running", "approved, waiting to run"),
        (42, "running", "unknown status, still waiting"),
        ("2", "succeeded", "succeeded"),
        (None, "unknown", "not a number"),
        ("soon", "unknown", "not a number"),
    ],
)
def test_every_sae_status(status, state, words):
    decoded = decode_change_order({"Status": status, "SubStatus": 0})
    assert decoded.state == state
    assert decoded.detail.startswith(f"SAE status {status!r}" if state == "unknown" else "SAE")
    assert words in decoded.detail


def test_sae_failures_are_final_at_once_and_carry_the_error_message():
    for code in (3, 6, 10):
        status = decode_change_order({"Status": code, "ErrorMessage": " image pull failed "})
        assert status.finished and status.state == "failed"
        assert status.message == "image pull failed"
    assert decode_change_order({"Status": 2, "ErrorMessage": "old note"}).message == ""


def test_sae_sub_status_1_while_running_is_surfaced():
    status = decode_change_order({"Status": 1, "SubStatus": 1, "ErrorMessage": "batch 2 failed"})
    assert status.state == "paused" and not status.finished
    assert status.detail.startswith("SAE status 1 (running), sub-status 1 (abnormal")
    assert "roll back or abort" in status.detail
    assert status.message == "batch 2 failed"
    assert decode_change_order({"Status": 1, "SubStatus": "1"}).state == "paused"
    assert decode_change_order({"Status": 1, "SubStatus": 0}).state == "running"
    assert "sub-status" not in decode_change_order({"Status": 1}).detail
    # a finished order reads as its status says, whatever its sub-status
    assert decode_change_order({"Status": 3, "SubStatus": 1}).state == "failed"
    assert decode_change_order({"Status": 2, "SubStatus": 1}).state == "succeeded"


# --- restarting once, waiting while busy ----------------------------------------------------------


class FakeClient:
    def __init__(self, refusals=(), orders=()):
        self.refusals = list(refusals)
        self.orders = list(orders)
        self.calls: list[tuple] = []

    def request_restart(self, op, ident, changes, *, query=None, known_change_ids=(), **_kw):
        """The client's restart entry point: records what the kind asked to send."""
        self.calls.append((op.action, ident, query, list(known_change_ids)))
        if self.refusals:
            raise self.refusals.pop(0)
        return RestartResult("change-1", "request-1")

    def read(self, op, query, deadline=None):
        if op.action == "ListRecentChangeOrder":
            return {"ChangeOrderList": {"ChangeOrder": self.orders}}
        assert op.action == "DescribeChangeOrder", op
        return {"Data": {"Status": 2}}


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def deadline(clock, seconds=100):
    return Deadline(seconds, clock=clock, sleep=clock.sleep)


def sae_refusal(code):
    return BusinessError(400, code, "An application change process is in progress.")


def test_sae_busy_codes_are_the_documented_ones():
    assert BUSY_CODES == {"Application.ChangerOrderRunning", "Application.InvalidStatus"}


@pytest.mark.parametrize("code", sorted(BUSY_CODES))
def test_sae_waits_while_another_change_order_runs_then_restarts_once(code):
    client, clock = FakeClient([sae_refusal(code), sae_refusal(code)]), Clock()
    target = SaeTarget(APP, min_ready_instances=1, auto_enable_application_scaling_rule=True)
    result = target.request_restart(client, known_change_ids=["old"], deadline=deadline(clock))
    assert result.change_id == "change-1"
    assert len(client.calls) == 3 and len(clock.sleeps) == 2
    assert client.calls[-1] == (
        "RestartApplication",
        APP,
        {
            "AppId": APP,
            "MinReadyInstances": "1",
            "MinReadyInstanceRatio": None,
            "AutoEnableApplicationScalingRule": "True",
        },
        ["old"],
    )


@pytest.mark.parametrize(
    "code", ["InvalidApplication.NotFound", "Application.NotDeployYet", "InvalidParameter"]
)
def test_sae_other_refusals_fail_at_once(code):
    client, clock = FakeClient([sae_refusal(code)]), Clock()
    with pytest.raises(BusinessError, match=code.replace(".", r"\.")):
        SaeTarget(APP).request_restart(client, known_change_ids=[], deadline=deadline(clock))
    assert len(client.calls) == 1


def test_sae_gives_up_waiting_when_the_deadline_comes():
    client, clock = FakeClient([sae_refusal("Application.ChangerOrderRunning")] * 100), Clock()
    with pytest.raises(BusinessError, match="ChangerOrderRunning"):
        SaeTarget(APP).request_restart(client, known_change_ids=[], deadline=deadline(clock, 20))
    assert clock.now <= 20


# --- which change orders may be our restart -------------------------------------------------------


OLD = {
    "ChangeOrderId": "sae-old",
    "AppId": APP,
    "CoTypeCode": "CoRestartApplication",
    "Source": "pop",
    "Status": 2,
}
OURS = {**OLD, "ChangeOrderId": "sae-ours", "Status": 1}
CONSOLE = {**OLD, "ChangeOrderId": "sae-console", "Source": "console"}
DEPLOY = {**OLD, "ChangeOrderId": "sae-deploy", "CoTypeCode": "CoDeploy"}
OTHER_APP = {**OLD, "ChangeOrderId": "sae-other", "AppId": "1111b7be-5f5b-4512-a7fc-56049ef1a2b3"}


def test_sae_candidates_follow_the_rules():
    before = frozenset({"sae-old"})
    orders = [OURS, OLD, CONSOLE, DEPLOY, OTHER_APP, {"ChangeOrderId": "bare"}, {"Status": 1}]
    assert sae_candidates(orders, APP, before, frozenset()) == ["sae-ours", "bare"]
    assert sae_candidates(orders, APP, before, frozenset({"sae-ours"})) == ["bare"]


# -- the cloud's view of the instances (verify: {cloud: true}) --------------------------------


def test_sae_needs_every_group_at_its_replicas():
    group = lambda replicas, running, name="g": {  # noqa: E731
        "GroupName": name,
        "Replicas": replicas,
        "RunningInstances": running,
    }
    assert groups_running([group(2, 2), group(1, 1)]).ready
    view = groups_running([group(2, 2), group(2, 1, "canary")])
    assert not view.ready
    assert view.detail == (
        "3 of 4 instance(s) running (SAE DescribeApplicationGroups RunningInstances/Replicas); "
        "short in group canary"
    )
    assert not groups_running([]).ready
    assert not groups_running([{"GroupName": "g"}]).ready
