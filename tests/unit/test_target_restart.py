"""Targets restart once, waiting (not failing) while another change still runs."""

from __future__ import annotations

import pytest

from restart_trigger.aliyun import BusinessError, RestartResult
from restart_trigger.backoff import Deadline
from restart_trigger.targets.edas import EdasTarget
from restart_trigger.targets.webplus import WebPlusTarget


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


def test_edas_waits_when_a_change_order_is_in_progress():
    refusal = BusinessError(200, "603", "another change order is in progress")
    client = FakeClient([refusal], orders=[{"ChangeOrderId": "co-0", "Status": 1}])
    clock = Clock()
    result = EdasTarget("app-1").request_restart(
        client, known_change_ids=[], deadline=Deadline(100, clock=clock, sleep=clock.sleep)
    )
    assert result.change_id == "change-1"
    assert client.restarts == 2


def test_edas_refusal_without_a_running_change_order_fails_at_once():
    refusal = BusinessError(200, "601", "application not found")
    client = FakeClient([refusal], orders=[{"ChangeOrderId": "co-0", "Status": 2}])
    clock = Clock()
    with pytest.raises(BusinessError, match="601"):
        EdasTarget("app-1").request_restart(
            client, known_change_ids=[], deadline=Deadline(100, clock=clock, sleep=clock.sleep)
        )
    assert client.restarts == 1


def test_a_failing_busy_lookup_keeps_the_refusals_own_text():
    class LookupFails(FakeClient):
        def list_recent_change_orders(self, app_id):
            raise BusinessError(200, "601", "ListRecentChangeOrder: application not found")

    refusal = BusinessError(200, "602", "the application is being deleted")
    client, clock = LookupFails([refusal]), Clock()
    with pytest.raises(BusinessError) as raised:
        EdasTarget("app-1").request_restart(
            client, known_change_ids=[], deadline=Deadline(100, clock=clock, sleep=clock.sleep)
        )
    assert raised.value is refusal
    assert client.restarts == 1
