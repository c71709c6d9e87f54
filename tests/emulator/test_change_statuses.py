"""Change orders and changes that end in every way the client decodes, in batches, paused.

EDAS: outcomes 3/6/7/10, automatic batches (status 9), manual batches (status 8) released by
ContinuePipeline, the admin confirm or an auto-confirm delay. Web+: aborted, timed out,
batch settings that lengthen a change, PauseBetweenBatches resumed by ResumeChange.
No timing upper bounds: each phase lasts long enough to be seen by polling.
"""

from __future__ import annotations

import time

import pytest

from emulator.state import DONE, HELD, INTERVAL, RUNNING, World, batch_progress
from testbed.emulator import TEST_APP_ID, TEST_ECC_IDS, TEST_ENV_ID, EmulatorError

pytestmark = pytest.mark.sdk


def _info(sdk, order_id: str, flavour: str = "v3") -> dict:
    return sdk.call(flavour, "GetChangeOrderInfo", ChangeOrderId=order_id)["changeOrderInfo"]


def _change(sdk, change_id: str, flavour: str = "tea-v2") -> dict:
    return sdk.call(flavour, "DescribeChange", EnvId=TEST_ENV_ID, ChangeId=change_id)["Change"]


def _app(**fields) -> dict:
    return {"edas_applications": [{"app_id": TEST_APP_ID, **fields}]}


def _env(**fields) -> dict:
    return {"webplus_environments": [{"env_id": TEST_ENV_ID, **fields}]}


def _tasks(pipeline: dict) -> list[dict]:
    return pipeline["StageDetailList"]["StageDetailDTO"][0]["TaskList"]["TaskInfoDTO"]


# -- the timeline, as a pure function ------------------------------------------------------------


def test_batch_progress_phases():
    def at(now, hold=False, released=(), auto=None):
        return batch_progress(now, 0.0, 2, 1.0, 0.5, hold, list(released), auto)

    assert at(0.5).phase == RUNNING and at(0.5).batch == 0
    assert at(1.2).phase == INTERVAL and at(1.2).batch == 0
    assert at(1.7).phase == RUNNING and at(1.7).batch == 1
    done = at(2.6)
    assert (done.phase, done.finished_at, done.starts) == (DONE, 2.5, (0.0, 1.5))
    # held until released; the interval still counts from the end of the batch
    assert at(10.0, hold=True).phase == HELD
    assert at(1.1, hold=True, released=[1.1]).phase == INTERVAL
    released = at(10.0, hold=True, released=[3.0])
    assert (released.phase, released.starts, released.finished_at) == (DONE, (0.0, 3.0), 4.0)
    # an auto-release, or an earlier manual one
    assert at(10.0, hold=True, auto=2.0).starts == (0.0, 3.0)
    assert at(10.0, hold=True, released=[2.0], auto=5.0).starts == (0.0, 2.0)


def test_an_old_state_document_still_reads():
    world = World()
    world.load_dict(
        {
            "edas_change_orders": [
                {
                    "change_order_id": "co-1",
                    "app_id": "a",
                    "region": "r",
                    "account_id": "1",
                    "created_at": 0.0,
                    "duration_s": 2.0,
                    "fails": True,
                }
            ]
        }
    )
    order = world.change_orders["co-1"]
    assert (order.status(1.0), order.status(3.0), order.finished_at(3.0)) == (1, 3, 2.0)


# -- EDAS outcomes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "status", "pipeline_status", "code", "words"),
    [
        ("failed", 3, 3, "RestartFailed", "health check"),
        ("terminated", 6, 6, "ChangeOrderTerminated", "terminated"),
        ("partial", 7, 3, "PartialRestartFailed", "the other instances restarted"),
        ("system_error", 10, 10, "SystemException", "system exception"),
    ],
)
def test_edas_orders_end_at_each_failure_status(
    emulator, sdk, poll, outcome, status, pipeline_status, code, words
):
    emulator.seed(_app(change_outcome=outcome, change_duration_s=0.3))
    order_id = sdk.call("v3", "RestartApplication", AppId=TEST_APP_ID)["ChangeOrderId"]
    info = poll(lambda: (i := _info(sdk, order_id))["Status"] not in (0, 1) and i)
    assert info["Status"] == status
    [pipeline] = info["PipelineInfoList"]["PipelineInfo"]
    assert pipeline["PipelineStatus"] == pipeline_status
    tasks = _tasks(pipeline)
    assert [t["TaskStatus"] for t in tasks] == ["2", "2", str(pipeline_status)]
    assert tasks[-1]["TaskErrorCode"] == code
    assert words in tasks[-1]["TaskErrorMessage"]
    assert all(t["TaskErrorMessage"] == "" for t in tasks[:-1])
    [listed] = sdk.call("roa", "ListRecentChangeOrder", AppId=TEST_APP_ID)["ChangeOrderList"][
        "ChangeOrder"
    ]
    assert listed["Status"] == status and listed["FinishTime"]
    # the order is over: the app restarts again
    assert sdk.call("v3", "RestartApplication", AppId=TEST_APP_ID)["Code"] == 200


def test_edas_partial_success_fails_the_last_batch_only(emulator, sdk, poll):
    emulator.seed(_app(change_outcome="partial", batches=2, change_duration_s=0.2))
    order_id = sdk.call("v3", "RestartApplication", AppId=TEST_APP_ID)["ChangeOrderId"]
    info = poll(lambda: (i := _info(sdk, order_id))["Status"] not in (0, 1) and i)
    assert info["Status"] == 7
    assert [p["PipelineStatus"] for p in info["PipelineInfoList"]["PipelineInfo"]] == [2, 3]
    assert (
        "Batch 2 of 2"
        in _tasks(info["PipelineInfoList"]["PipelineInfo"][1])[-1]["TaskErrorMessage"]
    )


# -- EDAS batches --------------------------------------------------------------------------------


def test_edas_automatic_batches_wait_at_9_between_batches(emulator, sdk, poll):
    emulator.seed(_app(batches=3, batch_wait_s=2.0, change_duration_s=0.2))
    order_id = sdk.call("v3", "RestartApplication", AppId=TEST_APP_ID)["ChangeOrderId"]
    waiting = poll(lambda: (i := _info(sdk, order_id))["Status"] == 9 and i, interval_s=0.05)
    assert (waiting["BatchCount"], waiting["BatchType"]) == (3, "Automatic")
    pipelines = waiting["PipelineInfoList"]["PipelineInfo"]
    assert [p["PipelineName"] for p in pipelines] == ["Batch: 1", "Batch: 2", "Batch: 3"]
    assert [p["PipelineStatus"] for p in pipelines] == [2, 0, 0]
    # still in progress: a second restart is refused as busy
    assert sdk.call("v3", "RestartApplication", AppId=TEST_APP_ID)["Code"] == 603
    done = poll(lambda: (i := _info(sdk, order_id))["Status"] == 2 and i)
    assert [p["PipelineStatus"] for p in done["PipelineInfoList"]["PipelineInfo"]] == [2, 2, 2]
    [order] = emulator.state()["edas_change_orders"]
    assert (order["batch_count"], order["batch_wait_s"]) == (3, 2.0)


@pytest.mark.parametrize("flavour", ["roa", "tea-v2", "v3"])
def test_edas_manual_batches_wait_at_8_until_continue_pipeline(emulator, sdk, poll, flavour):
    emulator.seed(_app(batches=2, batch_type="Manual", change_duration_s=0.2))
    order_id = sdk.call("v3", "RestartApplication", AppId=TEST_APP_ID)["ChangeOrderId"]
    held = poll(lambda: (i := _info(sdk, order_id))["Status"] == 8 and i)
    assert held["BatchType"] == "Manual"
    time.sleep(0.5)
    assert _info(sdk, order_id)["Status"] == 8  # nothing releases it by itself
    assert sdk.call("v3", "RestartApplication", AppId=TEST_APP_ID)["Code"] == 603
    first, second = (p["PipelineId"] for p in held["PipelineInfoList"]["PipelineInfo"])

    # the batch that ran is not the one waiting; an unknown pipeline is not found
    assert sdk.call(flavour, "ContinuePipeline", PipelineId=first, Confirm=True)["Code"] == 604
    assert sdk.call(flavour, "ContinuePipeline", PipelineId="nope-p2")["Code"] == 601
    # Confirm=false releases nothing
    assert sdk.call(flavour, "ContinuePipeline", PipelineId=second, Confirm=False)["Code"] == 200
    assert _info(sdk, order_id)["Status"] == 8

    assert sdk.call(flavour, "ContinuePipeline", PipelineId=second, Confirm=True)["Code"] == 200
    assert _info(sdk, order_id)["Status"] in (1, 2)
    done = poll(lambda: (i := _info(sdk, order_id))["Status"] == 2 and i)
    assert [p["PipelineStatus"] for p in done["PipelineInfoList"]["PipelineInfo"]] == [2, 2]
    [call] = [e for e in emulator.journal() if e["action"] == "ContinuePipeline"][-1:]
    assert call["status"] == 200 and call["query"]["PipelineId"] == second


def test_edas_manual_batches_auto_confirm(emulator, sdk, poll):
    emulator.seed(_app(batches=2, batch_type="Manual", auto_confirm_s=1.0, change_duration_s=0.2))
    order_id = sdk.call("v3", "RestartApplication", AppId=TEST_APP_ID)["ChangeOrderId"]
    poll(lambda: _info(sdk, order_id)["Status"] == 8)
    poll(lambda: _info(sdk, order_id)["Status"] == 2)


def test_admin_confirm_releases_an_edas_order(emulator, sdk, poll):
    emulator.seed(_app(batches=3, batch_type="Manual", change_duration_s=0.2))
    order_id = sdk.call("v3", "RestartApplication", AppId=TEST_APP_ID)["ChangeOrderId"]
    with pytest.raises(EmulatorError, match="409"):
        emulator.admin("POST", "confirm", {"change_id": order_id})  # still running batch 1
    for batch in (2, 3):
        poll(lambda: _info(sdk, order_id)["Status"] == 8)
        answer = emulator.admin("POST", "confirm", {"change_id": order_id})
        assert answer == {"kind": "edas", "change_id": order_id, "next_batch": batch}
    poll(lambda: _info(sdk, order_id)["Status"] == 2)
    [order] = emulator.state()["edas_change_orders"]
    assert len(order["confirmed_at"]) == 2
    with pytest.raises(EmulatorError, match="404"):
        emulator.admin("POST", "confirm", {"change_id": "nope"})
    with pytest.raises(EmulatorError, match="400"):
        emulator.admin("POST", "confirm", {})


def test_edas_targets_and_ecc_in_the_failure_message(emulator, sdk, poll):
    emulator.seed(_app(change_outcome="system_error", change_duration_s=0.2))
    order_id = sdk.call("roa", "RestartApplication", AppId=TEST_APP_ID, EccInfo=TEST_ECC_IDS[0])[
        "ChangeOrderId"
    ]
    info = poll(lambda: (i := _info(sdk, order_id))["Status"] == 10 and i)
    task = _tasks(info["PipelineInfoList"]["PipelineInfo"][0])[-1]
    assert TEST_ECC_IDS[0] in task["TaskErrorMessage"]


@pytest.mark.parametrize(
    "bad",
    [
        {"change_outcome": "meh"},
        {"batches": 0},
        {"batch_type": "manual"},
        {"batch_wait_s": -1},
        {"auto_confirm_s": "soon"},
    ],
)
def test_bad_edas_status_knobs_are_refused_and_change_nothing(emulator, bad):
    with pytest.raises(EmulatorError, match="400"):
        emulator.seed(_app(**bad))
    [app] = [a for a in emulator.state()["edas_applications"] if a["app_id"] == TEST_APP_ID]
    assert (app["change_outcome"], app["batches"], app["batch_type"]) == (None, 1, "Automatic")


# -- Web+ outcomes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "flag", "words"),
    [("aborted", "ChangeAborted", "aborted"), ("timed_out", "ChangeTimedout", "timed out")],
)
def test_webplus_changes_abort_or_time_out(emulator, sdk, poll, outcome, flag, words):
    emulator.seed(_env(change_outcome=outcome, change_duration_s=0.3, status="STOPPED"))
    change_id = sdk.call("roa", "RestartAppEnv", EnvId=TEST_ENV_ID)["EnvChange"]["ChangeId"]
    running = _change(sdk, change_id)
    assert not running["ChangeAborted"] and not running["ChangeTimedout"]
    change = poll(lambda: (c := _change(sdk, change_id))["ChangeFinished"] and c)
    assert change[flag] is True and change["ChangeSucceed"] is False
    other = {"ChangeAborted", "ChangeTimedout"} - {flag}
    assert [change[o] for o in other] == [False]
    assert words in change["ChangeMessage"]
    status = sdk.call("tea-v2", "DescribeAppEnvStatus", EnvId=TEST_ENV_ID)["EnvStatus"]
    assert status["EnvStatus"] == "STOPPED"  # back where it was


def test_bad_webplus_status_knobs_are_refused(emulator):
    for bad in ({"change_outcome": "partial"}, {"auto_resume_s": -1}, {"instance_count": 0}):
        with pytest.raises(EmulatorError, match="400"):
            emulator.seed(_env(**bad))


# -- Web+ batches --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "batches", "interval_s"),
    [
        ({}, 1, 0.0),
        ({"BatchSize": 1}, 3, 0.0),
        ({"BatchSize": 2, "BatchInterval": 2}, 2, 1.0),
        ({"BatchPercent": 50, "BatchInterval": 1}, 2, 0.5),
        ({"BatchPercent": 100}, 1, 0.0),
    ],
)
def test_webplus_batch_settings_set_how_long_a_change_takes(
    emulator, sdk, poll, settings, batches, interval_s
):
    emulator.seed(_env(instance_count=3, change_duration_s=0.2, batch_interval_unit_s=0.5))
    started = sdk.call("tea-v2", "RestartAppEnv", EnvId=TEST_ENV_ID, **settings)["EnvChange"]
    [stored] = emulator.state()["webplus_changes"]
    assert (stored["batch_count"], stored["batch_interval_s"]) == (batches, interval_s)
    change = poll(lambda: (c := _change(sdk, started["ChangeId"]))["ChangeFinished"] and c)
    assert change["ChangeSucceed"] is True
    took_ms = change["FinishTime"] - change["CreateTime"]
    expected_ms = batches * 200 + (batches - 1) * interval_s * 1000
    assert took_ms == pytest.approx(expected_ms, abs=2)


@pytest.mark.parametrize("flavour", ["roa", "tea-v2"])
def test_webplus_pause_between_batches_until_resume_change(emulator, sdk, poll, flavour):
    emulator.seed(_env(instance_count=2, change_duration_s=0.2))
    change_id = sdk.call(
        "tea-v2", "RestartAppEnv", EnvId=TEST_ENV_ID, BatchSize=1, PauseBetweenBatches=True
    )["EnvChange"]["ChangeId"]
    with pytest.raises(Exception) as caught:
        sdk.call(flavour, "ResumeChange", ChangeId=change_id)  # batch 1 still runs
    assert (caught.value.status, caught.value.code) == (400, "ChangeNotPaused")

    paused = poll(lambda: (c := _change(sdk, change_id))["ChangePaused"] and c)
    assert paused["ChangeFinished"] is False and "ResumeChange" in paused["ChangeMessage"]
    time.sleep(0.5)
    assert _change(sdk, change_id)["ChangePaused"] is True  # nothing resumes it by itself
    status = sdk.call("tea-v2", "DescribeAppEnvStatus", EnvId=TEST_ENV_ID)["EnvStatus"]
    assert (status["EnvStatus"], status["ApplyingChange"]) == ("UPDATING", True)
    with pytest.raises(Exception) as caught:
        sdk.call("tea-v2", "RestartAppEnv", EnvId=TEST_ENV_ID)
    assert caught.value.code == "EnvOnChanging"

    answer = sdk.call(flavour, "ResumeChange", ChangeId=change_id)
    assert answer["Code"] == "OK" and answer["EnvChange"]["ChangeId"] == change_id
    assert _change(sdk, change_id)["ChangePaused"] is False
    done = poll(lambda: (c := _change(sdk, change_id))["ChangeFinished"] and c)
    assert done["ChangeSucceed"] is True
    [call] = [e for e in emulator.journal() if e["action"] == "ResumeChange" and e["status"] == 200]
    assert call["form"] == {"ChangeId": change_id}


def test_resume_change_reads_its_change_id_from_the_form_only(emulator, sdk):
    with pytest.raises(Exception) as caught:
        sdk.raw(
            "tea-v2",
            "POST",
            "/pop/v1/wam/change/resume",
            "ResumeChange",
            "2019-03-20",
            query={"ChangeId": "wc-nope"},
        )
    assert (caught.value.status, caught.value.code) == (400, "MissingParameter")
    with pytest.raises(Exception) as caught:
        sdk.call("roa", "ResumeChange", ChangeId="wc-nope")
    assert (caught.value.status, caught.value.code) == (404, "ChangeNotExists")


def test_webplus_auto_resume_and_admin_resume(emulator, sdk, poll):
    emulator.seed(_env(instance_count=3, change_duration_s=0.2, auto_resume_s=0.5))
    change_id = sdk.call(
        "roa", "RestartAppEnv", EnvId=TEST_ENV_ID, BatchSize=1, PauseBetweenBatches="true"
    )["EnvChange"]["ChangeId"]
    assert poll(lambda: _change(sdk, change_id)["ChangeFinished"])

    emulator.seed(_env(auto_resume_s=None))
    change_id = sdk.call(
        "roa", "RestartAppEnv", EnvId=TEST_ENV_ID, BatchSize=2, PauseBetweenBatches="False"
    )["EnvChange"]["ChangeId"]
    assert poll(lambda: _change(sdk, change_id)["ChangeFinished"])  # False: no pause

    change_id = sdk.call(
        "roa", "RestartAppEnv", EnvId=TEST_ENV_ID, BatchSize=2, PauseBetweenBatches="True"
    )["EnvChange"]["ChangeId"]
    poll(lambda: _change(sdk, change_id)["ChangePaused"])
    answer = emulator.admin("POST", "confirm", {"change_id": change_id})
    assert answer == {"kind": "webplus", "change_id": change_id, "next_batch": 2}
    assert poll(lambda: _change(sdk, change_id)["ChangeSucceed"])
