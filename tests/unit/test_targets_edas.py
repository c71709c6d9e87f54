"""restart_trigger.targets.edas: EDAS change order statuses decoded, a restart that waits (not
fails) while another change order runs, and which change orders may be our restart after a lost
answer."""

from __future__ import annotations

import pytest

from restart_trigger.aliyun import BusinessError, RestartResult
from restart_trigger.backoff import Deadline
from restart_trigger.targets.edas import (
    EdasTarget,
    edas_candidates,
    edas_change_ids,
    instances_running,
    looks_like_restart,
)
from restart_trigger.targets.edas import decode_status as decode_edas_status
from restart_trigger.targets.webplus import decode_change as decode_webplus_change

# --- statuses -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "state"),
    [
        (0, "running"),
        (1, "running"),
        (9, "running"),
        (8, "paused"),
        (2, "succeeded"),
        (3, "failed"),
        (6, "failed"),
        (7, "failed"),
        (10, "failed"),
        ("2", "succeeded"),
    ],
)
def test_edas_status_codes(status, state):
    assert decode_edas_status({"Status": status}).state == state


def test_edas_failure_carries_the_failing_task_message():
    info = {
        "Status": 3,
        "PipelineInfoList": {
            "PipelineInfo": [
                {
                    "StageDetailList": {
                        "StageDetailDTO": [
                            {
                                "TaskList": {
                                    "TaskInfoDTO": [
                                        {"TaskStatus": 2, "TaskErrorMessage": ""},
                                        {
                                            "TaskStatus": 3,
                                            "TaskErrorMessage": "health check failed on ecc-1",
                                        },
                                    ]
                                }
                            }
                        ]
                    }
                }
            ]
        },
    }
    status = decode_edas_status(info)
    assert status.state == "failed"
    assert status.message == "health check failed on ecc-1"
    assert "3" in status.detail


def test_edas_unknown_status_number_keeps_waiting_and_garbage_is_unknown():
    assert decode_edas_status({"Status": 42}).state == "running"
    assert decode_edas_status({}).state == "unknown"


def _order(*tasks):
    stage = {"StageStatus": 3, "TaskList": {"TaskInfoDTO": list(tasks)}}
    pipeline = {"PipelineStatus": 3, "StageDetailList": {"StageDetailDTO": [stage]}}
    return {"Status": 3, "PipelineInfoList": {"PipelineInfo": [pipeline]}}


def test_edas_failure_prefers_the_failed_tasks_text_over_an_earlier_success_note():
    info = _order(
        {"TaskStatus": 2, "TaskMessage": "stopped 2 instances"},
        {"TaskStatus": 3, "TaskErrorMessage": "start failed: port 8080 in use"},
    )
    assert decode_edas_status(info).message == "start failed: port 8080 in use"


def test_edas_failure_without_a_failed_task_falls_back_to_the_first_message():
    info = _order({"TaskStatus": 2, "TaskErrorMessage": "something odd"})
    assert decode_edas_status(info).message == "something odd"


def test_an_unknown_edas_status_reads_the_same_while_polling_and_when_busy():
    from restart_trigger.aliyun import BusinessError
    from restart_trigger.targets.edas import EdasTarget

    class Client:
        def read(self, op, query, deadline=None):
            return {"ChangeOrderList": {"ChangeOrder": [{"ChangeOrderId": "co-1", "Status": 42}]}}

    assert decode_edas_status({"Status": 42}).state == "running"
    refusal = BusinessError(200, "603", "busy")
    assert EdasTarget("app-1").is_busy(Client(), refusal) is True


def test_a_change_waiting_for_a_person_says_where_to_release_it():
    """EDAS 8 and Web+ paused keep polling until the timeout, whose text shows this detail:
    it must say that a person is awaited, and where (not just "paused")."""
    edas = decode_edas_status({"Status": 8})
    assert edas.state == "paused"
    assert "waiting for manual confirmation of the next batch" in edas.detail
    assert "EDAS console" in edas.detail and "ContinuePipeline" in edas.detail
    webplus = decode_webplus_change({"ChangeFinished": False, "ChangePaused": True})
    assert webplus.state == "paused" and "ResumeChange" in webplus.detail


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


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


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


# --- which change orders may be our restart -------------------------------------------------------


ORDER = {
    "ChangeOrderId": "co-ours",
    "Source": "pop",
    "CoTypeCode": "CoRestartApplication",
    "CreateTime": "2024-01-02 11:04:07",
    "AppId": "app-1",
}
NOTHING = frozenset()


def test_a_new_pop_restart_of_the_app_not_in_the_snapshot_is_a_candidate():
    assert edas_candidates([ORDER], "app-1", frozenset({"co-old"}), NOTHING) == ["co-ours"]


def test_a_change_order_that_existed_before_the_send_is_never_a_candidate_however_recent():
    # The restart of the previous `up`, seconds old: in the snapshot, so not ours.
    assert edas_candidates([ORDER], "app-1", frozenset({"co-ours"}), NOTHING) == []


@pytest.mark.parametrize(
    "change",
    [
        {"ChangeOrderId": "co-known"},
        {"ChangeOrderId": ""},
        {"Source": "console"},
        {"AppId": "app-2"},
        {"CoTypeCode": "CoDeploy", "CoType": "Deploy Application"},
    ],
)
def test_edas_orders_that_cannot_be_our_restart_are_not_candidates(change):
    order = {**ORDER, **change}
    assert edas_candidates([order], "app-1", NOTHING, frozenset({"co-known"})) == []


def test_absent_source_app_and_type_do_not_rule_an_order_out():
    bare = {"ChangeOrderId": "co-bare"}
    assert edas_candidates([bare], "app-1", NOTHING, NOTHING) == ["co-bare"]


@pytest.mark.parametrize("created", ["2001-01-01 00:00:00", "2999-01-01 00:00:00", "soon", None])
def test_create_time_is_never_read(created):
    assert edas_candidates([{**ORDER, "CreateTime": created}], "app-1", NOTHING, NOTHING) == [
        "co-ours"
    ]


def test_every_new_restart_is_a_candidate_once():
    other = {**ORDER, "ChangeOrderId": "co-other"}
    assert edas_candidates([ORDER, other, ORDER], "app-1", NOTHING, NOTHING) == [
        "co-ours",
        "co-other",
    ]


def test_the_edas_snapshot_is_every_listed_id():
    orders = [ORDER, {"ChangeOrderId": "co-deploy", "CoTypeCode": "CoDeploy"}, {"Status": 2}]
    assert edas_change_ids(orders) == {"co-ours", "co-deploy"}


@pytest.mark.parametrize(
    ("order", "restart"),
    [
        ({"CoTypeCode": "CoRestartApplication"}, True),
        ({"CoType": "重启应用"}, True),
        ({}, True),
        ({"CoTypeCode": "CoDeploy"}, False),
    ],
)
def test_an_order_type_says_restart_in_english_or_chinese_or_not_at_all(order, restart):
    assert looks_like_restart(order) is restart


# -- the cloud's view of the instances (verify: {cloud: true}) --------------------------------


def test_edas_counts_running_instances_against_all():
    app = lambda total, running: {  # noqa: E731
        "Application": {"InstanceCount": total, "RunningInstanceCount": running}
    }
    assert instances_running(app(2, 2)).ready
    view = instances_running(app(3, 2))
    assert not view.ready and view.detail.startswith("2 of 3 instance(s) running (EDAS")
    assert not instances_running(app(0, 0)).ready  # no instances is not "all running"
    assert not instances_running({}).ready
    assert not instances_running({"Application": "x"}).ready
