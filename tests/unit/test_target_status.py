"""Decoding EDAS change order statuses and Web+ change flags."""

from __future__ import annotations

import pytest

from restart_trigger.targets.edas import decode_status as decode_edas_status
from restart_trigger.targets.webplus import decode_change as decode_webplus_change


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
