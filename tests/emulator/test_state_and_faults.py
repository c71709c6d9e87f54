"""Change-order progression, business errors, regions and fault injection."""

from __future__ import annotations

import time

import pytest
import requests

from testbed.emulator import TEST_APP_ID, TEST_ECC_IDS, TEST_ENV_ID, EmulatorError

pytestmark = pytest.mark.sdk

EDAS_LIST = "/pop/v5/changeorder/change_order_list"
#: An unsigned request that names the API version gets past the route to the faults.
UNSIGNED = {"x-acs-version": "2017-08-01"}


def _order_status(sdk, order_id: str) -> dict:
    return sdk.call("v3", "GetChangeOrderInfo", ChangeOrderId=order_id)["changeOrderInfo"]


def test_edas_progression_and_busy_app(emulator, sdk):
    emulator.seed({"edas_applications": [{"app_id": TEST_APP_ID, "change_duration_s": 30}]})
    first = sdk.call("v3", "RestartApplication", AppId=TEST_APP_ID)["ChangeOrderId"]
    assert _order_status(sdk, first)["Status"] in (0, 1)

    busy = sdk.call("v3", "RestartApplication", AppId=TEST_APP_ID)
    assert busy["Code"] == 603
    assert first in busy["Message"]

    emulator.seed({"edas_applications": [{"app_id": TEST_APP_ID, "change_duration_s": 0.3}]})
    # The duration is fixed when an order is created; the next one is short.
    state = emulator.state()
    assert state["edas_change_orders"][0]["duration_s"] == 30


def test_edas_success_then_restart_again(emulator, sdk, poll):
    first = sdk.call("v3", "RestartApplication", AppId=TEST_APP_ID)["ChangeOrderId"]
    info = poll(lambda: (i := _order_status(sdk, first))["Status"] == 2 and i)
    pipeline = info["PipelineInfoList"]["PipelineInfo"][0]
    assert pipeline["PipelineStatus"] == 2
    second = sdk.call("v3", "RestartApplication", AppId=TEST_APP_ID)
    assert second["Code"] == 200
    listed = sdk.call("v3", "ListRecentChangeOrder", AppId=TEST_APP_ID)["ChangeOrderList"]
    assert [o["ChangeOrderId"] for o in listed["ChangeOrder"]] == [second["ChangeOrderId"], first]
    finished = listed["ChangeOrder"][1]
    assert len(finished["CreateTime"]) == 19 and finished["FinishTime"] >= finished["CreateTime"]


def test_edas_ecc_info(sdk):
    bad = sdk.call("v3", "RestartApplication", AppId=TEST_APP_ID, EccInfo="not-an-ecc")
    assert bad["Code"] == 602
    ok = sdk.call("v3", "RestartApplication", AppId=TEST_APP_ID, EccInfo=TEST_ECC_IDS[1])
    assert _order_status(sdk, ok["ChangeOrderId"])["Targets"]["Items"] == [TEST_ECC_IDS[1]]


def test_edas_unknown_change_order_and_missing_parameter(sdk):
    assert sdk.call("v3", "GetChangeOrderInfo", ChangeOrderId="nope")["Code"] == 601
    with pytest.raises(Exception) as caught:
        sdk.call("roa", "ListRecentChangeOrder")
    assert (caught.value.status, caught.value.code) == (400, "MissingParameter")


def test_failed_change_orders(emulator, sdk, poll):
    emulator.set_faults({"fail_app_ids": [TEST_APP_ID], "fail_env_ids": [TEST_ENV_ID]})
    order_id = sdk.call("v3", "RestartApplication", AppId=TEST_APP_ID)["ChangeOrderId"]
    info = poll(lambda: (i := _order_status(sdk, order_id))["Status"] not in (0, 1) and i)
    assert info["Status"] == 3
    stage = info["PipelineInfoList"]["PipelineInfo"][0]["StageDetailList"]["StageDetailDTO"][0]
    failed = [t for t in stage["TaskList"]["TaskInfoDTO"] if t["TaskErrorMessage"]]
    assert failed and failed[0]["TaskStatus"] == "3"

    change_id = sdk.call("tea-v2", "RestartAppEnv", EnvId=TEST_ENV_ID)["EnvChange"]["ChangeId"]

    def done():
        change = sdk.call("tea-v2", "DescribeChange", EnvId=TEST_ENV_ID, ChangeId=change_id)
        return change["Change"] if change["Change"]["ChangeFinished"] else None

    change = poll(done)
    assert change["ChangeSucceed"] is False
    assert change["ChangeMessage"]


def test_region_scoping(sdk, sdk_for, emulator):
    beijing = sdk_for(emulator.host, region="cn-beijing")
    assert beijing.call("roa", "RestartApplication", AppId=TEST_APP_ID)["Code"] == 601
    with pytest.raises(Exception) as caught:
        beijing.call("roa", "DescribeAppEnvStatus", EnvId=TEST_ENV_ID)
    assert (caught.value.status, caught.value.code) == (403, "ResourceAuthFailed")
    assert sdk.call("roa", "DescribeAppEnvStatus", EnvId=TEST_ENV_ID)["Code"] == "OK"


@pytest.mark.parametrize(
    ("status", "allowed"),
    [("RUNNING", True), ("STOPPED", True), ("TERMINATED", True), ("INITIALIZING", False)],
)
def test_webplus_restart_allowed_statuses(emulator, sdk, poll, status, allowed):
    emulator.seed({"webplus_environments": [{"env_id": TEST_ENV_ID, "status": status}]})
    if not allowed:
        with pytest.raises(Exception) as caught:
            sdk.call("tea-v2", "RestartAppEnv", EnvId=TEST_ENV_ID)
        assert (caught.value.status, caught.value.code) == (403, "StatusNotAllowedRestart")
        return
    sdk.call("tea-v2", "RestartAppEnv", EnvId=TEST_ENV_ID)
    during = sdk.call("tea-v2", "DescribeAppEnvStatus", EnvId=TEST_ENV_ID)["EnvStatus"]
    if during["ApplyingChange"]:
        assert (during["EnvStatus"], during["LastEnvStatus"]) == ("UPDATING", status)
    after = poll(
        lambda: (
            (s := sdk.call("tea-v2", "DescribeAppEnvStatus", EnvId=TEST_ENV_ID)["EnvStatus"])[
                "ApplyingChange"
            ]
            is False
            and s
        )
    )
    assert after["EnvStatus"] == "RUNNING"


def test_webplus_parameters(sdk):
    with pytest.raises(Exception) as caught:
        sdk.call("tea-v2", "DescribeChange", EnvId=TEST_ENV_ID, ChangeId="wc-nope")
    assert (caught.value.status, caught.value.code) == (404, "ChangeNotExists")
    for params, code in (
        ({}, "MissingParameter"),
        ({"EnvId": TEST_ENV_ID, "BatchSize": "abc"}, "InvalidParameter"),
        ({"EnvId": TEST_ENV_ID, "BatchPercent": "101"}, "InvalidParameter"),
        ({"EnvId": TEST_ENV_ID, "PauseBetweenBatches": "yes"}, "InvalidParameter"),
    ):
        with pytest.raises(Exception) as caught:
            sdk.call("tea-v2", "RestartAppEnv", **params)
        assert (caught.value.status, caught.value.code) == (400, code)
    body = sdk.call("tea-v2", "RestartAppEnv", EnvId=TEST_ENV_ID, PauseBetweenBatches="True")
    assert body["Code"] == "OK"


# -- faults -----------------------------------------------------------------------------------


def test_throttling_answer_shape(emulator_url, emulator):
    emulator.set_faults({"throttle_count": 1, "throttle_status": 429, "retry_after_ms": 250})
    reply = requests.post(emulator_url + EDAS_LIST, headers=UNSIGNED, timeout=30)
    assert reply.status_code == 429
    body = reply.json()
    assert body["Code"] == "Throttling.User"
    assert body["Message"] == "Request was denied due to user flow control."
    assert reply.headers["x-acs-retry-after"] == "250"
    assert reply.headers["x-acs-request-id"] == body["RequestId"]
    # The count is used up: the next request reaches the signature check.
    assert requests.post(emulator_url + EDAS_LIST, headers=UNSIGNED, timeout=30).json()["Code"] == (
        "IncompleteSignature"
    )
    assert [e["fault"] for e in emulator.journal()] == ["throttle", None]


def test_tea_sdk_sees_throttling_with_retry_after(emulator, sdk):
    emulator.set_faults({"throttle_count": 1, "retry_after_ms": 100})
    with pytest.raises(Exception) as caught:
        sdk.call("v3", "ListRecentChangeOrder", AppId=TEST_APP_ID)
    assert (caught.value.status, caught.value.code) == (400, "Throttling.User")


def test_qps_limit(emulator_url, emulator):
    emulator.set_faults({"qps_limit": 1})
    codes = [
        requests.post(emulator_url + EDAS_LIST, headers=UNSIGNED, timeout=30).json()["Code"]
        for _ in range(20)
    ]
    assert "Throttling.User" in codes
    assert codes[0] == "IncompleteSignature"


def test_server_errors_and_reproducible_rates(emulator_url, emulator):
    emulator.set_faults({"seed": 7, "error_rate": 0.5, "error_status": [500, 503]})
    first = [
        requests.post(emulator_url + EDAS_LIST, headers=UNSIGNED, timeout=30).status_code
        for _ in range(30)
    ]
    emulator.set_faults({"seed": 7, "error_rate": 0.5, "error_status": [500, 503]})
    second = [
        requests.post(emulator_url + EDAS_LIST, headers=UNSIGNED, timeout=30).status_code
        for _ in range(30)
    ]
    assert first == second
    assert {500, 503, 400} == set(first)
    codes = {e["code"] for e in emulator.journal() if e["status"] in (500, 503)}
    assert codes == {"InternalError", "ServiceUnavailable"}


def test_latency(emulator_url, emulator):
    emulator.set_faults({"latency_ms": 300})
    started = time.monotonic()
    requests.post(emulator_url + EDAS_LIST, headers=UNSIGNED, timeout=30)
    assert time.monotonic() - started >= 0.3


def test_faults_can_target_actions_and_never_touch_admin(emulator, sdk):
    emulator.set_faults({"actions": ["RestartApplication"], "error_rate": 1.0})
    with pytest.raises(Exception) as caught:
        sdk.call("v3", "RestartApplication", AppId=TEST_APP_ID)
    assert caught.value.code == "InternalError"
    assert sdk.call("v3", "ListRecentChangeOrder", AppId=TEST_APP_ID)["Code"] == 200
    emulator.set_faults({"error_rate": 1.0, "drop_before_rate": 1.0})
    assert emulator.state()["accounts"]  # admin calls are never faulted


@pytest.mark.parametrize("flavour", ["roa", "v3"])
def test_drop_before_processing_does_not_apply(emulator, sdk, flavour):
    emulator.set_faults({"drop_before_count": 1})
    with pytest.raises(Exception):  # noqa: B017 - a transport error, whatever the SDK calls it
        sdk.call(flavour, "RestartApplication", AppId=TEST_APP_ID)
    assert emulator.state()["edas_change_orders"] == []
    (entry,) = emulator.journal()
    assert (entry["fault"], entry["applied"], entry["status"]) == ("drop_before", False, None)
    assert sdk.call(flavour, "RestartApplication", AppId=TEST_APP_ID)["Code"] == 200


@pytest.mark.parametrize(("flavour", "webplus_flavour"), [("roa", "roa"), ("v3", "tea-v2")])
def test_drop_after_processing_applies_but_loses_the_answer(
    emulator, sdk, flavour, webplus_flavour
):
    emulator.set_faults({"drop_after_count": 2})
    with pytest.raises(Exception):  # noqa: B017
        sdk.call(flavour, "RestartApplication", AppId=TEST_APP_ID)
    with pytest.raises(Exception):  # noqa: B017
        sdk.call(webplus_flavour, "RestartAppEnv", EnvId=TEST_ENV_ID)
    state = emulator.state()
    assert len(state["edas_change_orders"]) == 1
    assert len(state["webplus_changes"]) == 1
    entries = emulator.journal()
    assert [(e["fault"], e["applied"], e["status"]) for e in entries] == [
        ("drop_after", True, 200),
        ("drop_after", True, 200),
    ]
    assert entries[0]["result_id"] == state["edas_change_orders"][0]["change_order_id"]
    # A blind retry is visible: the app is busy and the env is changing.
    assert sdk.call(flavour, "RestartApplication", AppId=TEST_APP_ID)["Code"] in (200, 603)


def test_invalid_fault_config_is_rejected(emulator):
    for bad in ({"nonsense": 1}, {"throttle_rate": 2}, {"error_status": 404}):
        with pytest.raises(EmulatorError, match="HTTP 400"):
            emulator.set_faults(bad)
    assert emulator.get_faults()["throttle_rate"] == 0.0


def test_concurrent_restarts_create_exactly_one_change(emulator, sdk):
    from concurrent.futures import ThreadPoolExecutor

    emulator.seed({"edas_applications": [{"app_id": TEST_APP_ID, "change_duration_s": 60}]})
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(
            pool.map(
                lambda _: sdk.call("v3", "RestartApplication", AppId=TEST_APP_ID)["Code"],
                range(16),
            )
        )
    assert sorted(codes) == [200] + [603] * 15
    assert len(emulator.state()["edas_change_orders"]) == 1
    assert len(emulator.journal()) == 16
