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
