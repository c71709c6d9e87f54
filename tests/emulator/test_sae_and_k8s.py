"""SAE applications and EDAS Kubernetes applications, through their official SDKs.

SAE: aliyun-python-sdk-sae (``roa``) and alibabacloud-sae20190506 (``v3`` by default,
``tea-v2`` with ``signature_algorithm='v2'``). EDAS K8s: aliyun-python-sdk-edas and
alibabacloud-edas20170801, the same three schemes.
"""

from __future__ import annotations

import json
import time

import pytest

from testbed.emulator import (
    TEST_ACCESS_KEY_SECRET,
    TEST_APP_ID,
    TEST_K8S_APP_ID,
    TEST_REGION,
    TEST_SAE_APP_ID,
    TEST_STS_ACCESS_KEY_SECRET,
    TEST_STS_TOKEN,
    EmulatorProcess,
)

pytestmark = pytest.mark.sdk

FLAVOURS = ("roa", "tea-v2", "v3")
KEYS = ("permanent", "sts")
UNKNOWN_SAE_APP = "5a3e0000-0000-4000-8000-0000000000ff"
SAE_RESTART = ("PUT", "/pop/v1/sam/app/restartApplication", "RestartApplication")
SAE_VERSION = "2019-05-06"


def _sae_status(sdk, flavour, order_id):
    data = sdk.sae(flavour, "DescribeChangeOrder", ChangeOrderId=order_id)["Data"]
    return data["Status"], data


def _wait_final(sdk, poll, order_id, flavour="v3"):
    def done():
        status, data = _sae_status(sdk, flavour, order_id)
        return data if status in (2, 3, 6, 10) else None

    return poll(done)


# -- SAE through its SDKs -------------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_sae_restart_describe_and_list(emulator, sdk, creds_named, poll, flavour, key):
    creds = creds_named[key]
    restarted = sdk.sae(
        flavour,
        "RestartApplication",
        creds,
        AppId=TEST_SAE_APP_ID,
        MinReadyInstances=1,
        MinReadyInstanceRatio=50,
        AutoEnableApplicationScalingRule=True,
    )
    assert (restarted["Code"], restarted["Success"], restarted["Message"]) == (
        "200",
        True,
        "success",
    )
    assert restarted["RequestId"] and restarted["TraceId"]
    order_id = restarted["Data"]["ChangeOrderId"]

    status, data = _sae_status(sdk, flavour, order_id)
    assert status in (0, 1, 2)
    assert data["AppId"] == TEST_SAE_APP_ID
    assert data["CoTypeCode"] == "CoRestartApplication"
    assert data["SubStatus"] == 0
    assert [p["PipelineId"] for p in data["Pipelines"]]

    listed = sdk.sae(
        flavour,
        "ListChangeOrders",
        creds,
        AppId=TEST_SAE_APP_ID,
        CoType="CoRestartApplication",
        CurrentPage=1,
        PageSize=20,
    )["Data"]
    assert [o["ChangeOrderId"] for o in listed["ChangeOrderList"]] == [order_id]
    item = listed["ChangeOrderList"][0]
    assert (item["Source"], item["AppId"], item["CoTypeCode"]) == (
        "pop",
        TEST_SAE_APP_ID,
        "CoRestartApplication",
    )
    assert (listed["CurrentPage"], listed["PageSize"], listed["TotalSize"]) == (1, 20, 1)

    done = _wait_final(sdk, poll, order_id, flavour)
    assert (done["Status"], done["ErrorMessage"]) == (2, "")

    entries = emulator.journal()
    assert {e["product"] for e in entries} == {"sae"}
    assert {e["signature"] for e in entries} == {flavour}
    assert all(e["status"] == 200 for e in entries)
    restart = next(e for e in entries if e["action"] == "RestartApplication")
    assert restart["method"] == "PUT"
    assert restart["query"]["AppId"] == TEST_SAE_APP_ID
    assert restart["query"]["MinReadyInstances"] == "1"
    assert restart["query"]["AutoEnableApplicationScalingRule"].lower() == "true"
    assert restart["form"] == {}
    (order,) = emulator.state()["sae_change_orders"]
    assert (order["min_ready_instance_ratio"], order["auto_enable_application_scaling_rule"]) == (
        50,
        True,
    )
    dumped = json.dumps(entries)
    for secret in (TEST_ACCESS_KEY_SECRET, TEST_STS_ACCESS_KEY_SECRET, TEST_STS_TOKEN):
        assert secret not in dumped


def test_sae_legacy_list_with_the_app_id_only_and_the_cotype_filter(sdk):
    sdk.sae("roa", "RestartApplication", AppId=TEST_SAE_APP_ID)
    listed = sdk.sae("roa", "ListChangeOrders", AppId=TEST_SAE_APP_ID)["Data"]
    assert len(listed["ChangeOrderList"]) == 1
    assert (listed["CurrentPage"], listed["PageSize"]) == (1, 10)
    other = sdk.sae("roa", "ListChangeOrders", AppId=TEST_SAE_APP_ID, CoType="CoDeploy")["Data"]
    assert (other["ChangeOrderList"], other["TotalSize"]) == ([], 0)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_sae_refusals(emulator, sdk, flavour):
    emulator.seed({"sae_applications": [{"app_id": TEST_SAE_APP_ID, "change_duration_s": 60}]})
    sdk.sae(flavour, "RestartApplication", AppId=TEST_SAE_APP_ID)
    cases = [
        ({"AppId": TEST_SAE_APP_ID}, 400, "Application.ChangerOrderRunning"),
        ({"AppId": UNKNOWN_SAE_APP}, 400, "InvalidApplication.NotFound"),
        ({"AppId": "not-a-uuid"}, 404, "InvalidAppId.NotFound"),
        ({"AppId": TEST_SAE_APP_ID, "MinReadyInstances": -2}, 400, "InvalidParameter.WithMessage"),
        (
            {"AppId": TEST_SAE_APP_ID, "MinReadyInstanceRatio": 101},
            400,
            "InvalidParameter.WithMessage",
        ),
    ]
    for params, status, code in cases:
        with pytest.raises(Exception) as caught:
            sdk.sae(flavour, "RestartApplication", **params)
        assert (caught.value.status, caught.value.code) == (status, code), params
    with pytest.raises(Exception) as caught:
        sdk.sae(flavour, "DescribeChangeOrder", ChangeOrderId="no-such-order")
    assert (caught.value.status, caught.value.code) == (400, "InvalidChangeOrder.NotFound")
    assert len(emulator.state()["sae_change_orders"]) == 1


def test_sae_error_body_shape(emulator, capture_server):
    # Read the raw answer: Success false, the code in Code and ErrorCode, a TraceId.
    captured = capture_server.capture_sae("v3", "RestartApplication", AppId=UNKNOWN_SAE_APP)
    status, _, body = captured.send(emulator.host)
    assert status == 400
    assert body["Success"] is False
    assert body["Code"] == body["ErrorCode"] == "InvalidApplication.NotFound"
    assert body["RequestId"] and body["TraceId"] and body["Message"]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_sae_missing_app_id_is_not_empty(emulator, sdk, flavour):
    with pytest.raises(Exception) as caught:
        sdk.raw(flavour, *SAE_RESTART, SAE_VERSION, query={"MinReadyInstances": "1"})
    assert (caught.value.status, caught.value.code) == (400, "InvalidParameter.NotEmpty")
    assert emulator.state()["sae_change_orders"] == []


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_sae_app_id_in_the_body_is_not_seen(emulator, sdk, flavour):
    with pytest.raises(Exception) as caught:
        sdk.raw(flavour, *SAE_RESTART, SAE_VERSION, form={"AppId": TEST_SAE_APP_ID})
    assert (caught.value.status, caught.value.code) == (400, "InvalidParameter.NotEmpty")
    assert emulator.state()["sae_change_orders"] == []


@pytest.mark.parametrize(
    ("method", "version", "action", "status", "code"),
    [
        ("PUT", "2017-08-01", "RestartApplication", 400, "InvalidVersion"),
        ("PUT", SAE_VERSION, "DescribeChangeOrder", 404, "InvalidAction.NotFound"),
        ("POST", SAE_VERSION, "RestartApplication", 404, "InvalidAction.NotFound"),
    ],
)
def test_sae_route_strictness(emulator, sdk, method, version, action, status, code):
    with pytest.raises(Exception) as caught:
        sdk.raw("v3", method, SAE_RESTART[1], action, version, query={"AppId": TEST_SAE_APP_ID})
    assert (caught.value.status, caught.value.code) == (status, code)
    assert emulator.state()["sae_change_orders"] == []


def test_sae_missing_version_and_wrong_signature(emulator, capture_server, sdk, wrong_creds):
    captured = capture_server.capture_sae("roa", "RestartApplication", AppId=TEST_SAE_APP_ID)
    assert captured.header("x-acs-region-id") == TEST_REGION  # the legacy core sends it
    assert "RegionId=" in captured.target
    status, _, body = captured.without_header("x-acs-version").send(emulator.host)
    assert (status, body["Code"]) == (400, "MissingParameter")
    for flavour in FLAVOURS:
        with pytest.raises(Exception) as caught:
            sdk.sae(flavour, "ListChangeOrders", wrong_creds["wrong_secret"], AppId=TEST_SAE_APP_ID)
        assert (caught.value.status, caught.value.code) == (400, "SignatureDoesNotMatch")
    tea_v3 = capture_server.capture_sae("v3", "RestartApplication", AppId=TEST_SAE_APP_ID)
    assert tea_v3.header("x-acs-region-id") is None  # tea V3 sends no region
    assert emulator.state()["sae_change_orders"] == []


def test_sae_region_scoping(emulator, sdk_for):
    emulator.seed({"sae_applications": [{"app_id": TEST_SAE_APP_ID, "region": "cn-shanghai"}]})
    with pytest.raises(Exception) as caught:
        sdk_for(emulator.host).sae("roa", "RestartApplication", AppId=TEST_SAE_APP_ID)
    assert caught.value.code == "InvalidApplication.NotFound"
    shanghai = sdk_for(emulator.host, region="cn-shanghai")
    assert shanghai.sae("roa", "RestartApplication", AppId=TEST_SAE_APP_ID)["Success"] is True


# -- SAE statuses ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "status"), [("failed", 3), ("terminated", 6), ("system_error", 10)]
)
def test_sae_failing_orders_end_with_an_error_message(emulator, sdk, poll, outcome, status):
    emulator.seed({"sae_applications": [{"app_id": TEST_SAE_APP_ID, "change_outcome": outcome}]})
    order_id = sdk.sae("v3", "RestartApplication", AppId=TEST_SAE_APP_ID)["Data"]["ChangeOrderId"]
    done = _wait_final(sdk, poll, order_id)
    assert done["Status"] == status
    assert "injected by the emulator" in done["ErrorMessage"]
    assert done["Pipelines"][-1]["Status"] == status
    # finished: a new restart is accepted
    assert sdk.sae("v3", "RestartApplication", AppId=TEST_SAE_APP_ID)["Success"] is True


def test_sae_fail_app_ids_fault_fails_the_order(emulator, sdk, poll):
    emulator.set_faults({"fail_app_ids": [TEST_SAE_APP_ID]})
    order_id = sdk.sae("v3", "RestartApplication", AppId=TEST_SAE_APP_ID)["Data"]["ChangeOrderId"]
    assert _wait_final(sdk, poll, order_id)["Status"] == 3


def test_sae_sub_status_abnormal_stays_running_and_blocks(emulator, sdk, poll):
    emulator.seed({"sae_applications": [{"app_id": TEST_SAE_APP_ID, "sub_status_abnormal": True}]})
    order_id = sdk.sae("v3", "RestartApplication", AppId=TEST_SAE_APP_ID)["Data"]["ChangeOrderId"]
    data = poll(lambda: (d := _sae_status(sdk, "v3", order_id)[1])["SubStatus"] == 1 and d)
    assert data["Status"] == 1
    assert data["ErrorMessage"]
    with pytest.raises(Exception) as caught:
        sdk.sae("v3", "RestartApplication", AppId=TEST_SAE_APP_ID)
    assert caught.value.code == "Application.ChangerOrderRunning"
    item = sdk.sae("v3", "ListChangeOrders", AppId=TEST_SAE_APP_ID)["Data"]["ChangeOrderList"][0]
    assert (item["Status"], item["FinishTime"]) == (1, "")


def test_sae_approval_then_run(emulator, sdk, poll):
    emulator.seed(
        {
            "sae_applications": [
                {"app_id": TEST_SAE_APP_ID, "approval_s": 0.6, "approved_wait_s": 0.6}
            ]
        }
    )
    order_id = sdk.sae("v3", "RestartApplication", AppId=TEST_SAE_APP_ID)["Data"]["ChangeOrderId"]
    seen = []

    def collect():
        status = _sae_status(sdk, "v3", order_id)[0]
        if not seen or seen[-1] != status:
            seen.append(status)
        return status == 2

    poll(collect, interval_s=0.05)
    assert seen[0] == 11 and 12 in seen and seen[-1] == 2
    assert seen.index(12) < seen.index(2)
    with pytest.raises(Exception) as caught:  # pending approval still blocks
        emulator.seed({"sae_applications": [{"app_id": TEST_SAE_APP_ID, "approval_s": 30}]})
        sdk.sae("v3", "RestartApplication", AppId=TEST_SAE_APP_ID)
        sdk.sae("v3", "RestartApplication", AppId=TEST_SAE_APP_ID)
    assert caught.value.code == "Application.ChangerOrderRunning"


def test_sae_manual_batches_wait_at_8_until_confirmed(emulator, sdk, poll):
    emulator.seed(
        {
            "sae_applications": [
                {
                    "app_id": TEST_SAE_APP_ID,
                    "batches": 2,
                    "batch_type": "manual",
                    "change_duration_s": 0.3,
                }
            ]
        }
    )
    order_id = sdk.sae("v3", "RestartApplication", AppId=TEST_SAE_APP_ID)["Data"]["ChangeOrderId"]
    data = poll(lambda: (d := _sae_status(sdk, "v3", order_id)[1])["Status"] == 8 and d)
    assert [p["Status"] for p in data["Pipelines"]] == [2, 0]
    assert data["CurrentPipelineId"] == data["Pipelines"][1]["PipelineId"]
    confirmed = emulator.admin("POST", "confirm", {"change_id": order_id})
    assert (confirmed["kind"], confirmed["next_batch"]) == ("sae", 2)
    assert _wait_final(sdk, poll, order_id)["Status"] == 2


def test_sae_auto_batches_wait_at_9(emulator, sdk, poll):
    emulator.seed(
        {
            "sae_applications": [
                {
                    "app_id": TEST_SAE_APP_ID,
                    "batches": 2,
                    "batch_wait_s": 1.0,
                    "change_duration_s": 0.3,
                }
            ]
        }
    )
    order_id = sdk.sae("v3", "RestartApplication", AppId=TEST_SAE_APP_ID)["Data"]["ChangeOrderId"]
    poll(lambda: _sae_status(sdk, "v3", order_id)[0] == 9, interval_s=0.05)
    assert _wait_final(sdk, poll, order_id)["Status"] == 2


@pytest.mark.parametrize(
    "item",
    [
        {"app_id": "not-a-uuid"},
        {"app_id": TEST_SAE_APP_ID, "change_outcome": "partial"},
        {"app_id": TEST_SAE_APP_ID, "batch_type": "Manual"},
        {"app_id": TEST_SAE_APP_ID, "sub_status_abnormal": "yes"},
    ],
)
def test_bad_sae_seed_is_refused(emulator, item):
    with pytest.raises(Exception, match="HTTP 400"):
        emulator.seed({"sae_applications": [item]})


# -- SAE faults -----------------------------------------------------------------------------


def test_faults_apply_to_sae_routes_by_target(emulator, sdk):
    emulator.set_faults({"throttle_rate": 1.0, "target_ids": [TEST_SAE_APP_ID]})
    with pytest.raises(Exception) as caught:
        sdk.sae("v3", "RestartApplication", AppId=TEST_SAE_APP_ID)
    assert caught.value.code == "Throttling.User"
    assert sdk.call("v3", "RestartApplication", AppId=TEST_APP_ID)["Code"] == 200
    emulator.set_faults({"error_count": 1, "actions": ["ListChangeOrders"]})
    with pytest.raises(Exception) as caught:
        sdk.sae("v3", "ListChangeOrders", AppId=TEST_SAE_APP_ID)
    assert caught.value.status == 500
    assert emulator.state()["sae_change_orders"] == []


def test_sae_drop_after_applies_and_the_list_shows_it(emulator, sdk):
    emulator.set_faults({"drop_after_count": 1, "actions": ["RestartApplication"]})
    with pytest.raises(Exception):  # noqa: B017 - a transport error
        sdk.sae("v3", "RestartApplication", AppId=TEST_SAE_APP_ID)
    (order,) = emulator.state()["sae_change_orders"]
    listed = sdk.sae("v3", "ListChangeOrders", AppId=TEST_SAE_APP_ID)["Data"]["ChangeOrderList"]
    assert [o["ChangeOrderId"] for o in listed] == [order["change_order_id"]]
    (entry,) = [e for e in emulator.journal() if e["action"] == "RestartApplication"]
    assert (entry["fault"], entry["applied"], entry["product"]) == ("drop_after", True, "sae")


def test_apply_delay_holds_sae_and_k8s_restarts(emulator, capture_server, poll):
    sae = capture_server.capture_sae("v3", "RestartApplication", AppId=TEST_SAE_APP_ID)
    k8s = capture_server.capture("v3", "RestartK8sApplication", AppId=TEST_K8S_APP_ID)
    emulator.set_faults({"apply_delay_ms": 800, "apply_delay_count": 2})
    for captured in (sae, k8s):
        with pytest.raises(TimeoutError):
            captured.send(emulator.host, timeout_s=0.3)
    held = poll(lambda: len(e := [j for j in emulator.journal() if j["fault"]]) == 2 and e)
    assert {(e["action"], e["fault"], e["applied"]) for e in held} == {
        ("RestartApplication", "apply_delay", True),
        ("RestartK8sApplication", "apply_delay", True),
    }
    state = emulator.state()
    assert len(state["sae_change_orders"]) == 1 and len(state["edas_change_orders"]) == 1


def test_status_latency_slows_sae_status_calls(emulator, sdk):
    emulator.set_faults({"status_latency_ms": 400, "status_latency_count": 1})
    started = time.monotonic()
    sdk.sae("v3", "ListChangeOrders", AppId=TEST_SAE_APP_ID)
    assert time.monotonic() - started >= 0.4
    assert emulator.journal()[-1]["fault"] == "status_latency"


def test_sae_orders_survive_a_restart_of_the_emulator(tmp_path, sdk_for):
    from testbed.emulator import TEST_SEED

    state = tmp_path / "state.json"
    with EmulatorProcess(state_path=state) as first:
        first.seed(TEST_SEED)
        body = sdk_for(first.host).sae("v3", "RestartApplication", AppId=TEST_SAE_APP_ID)
    with EmulatorProcess(state_path=state) as second:
        data = sdk_for(second.host).sae(
            "roa", "DescribeChangeOrder", ChangeOrderId=body["Data"]["ChangeOrderId"]
        )["Data"]
        assert data["AppId"] == TEST_SAE_APP_ID


# -- EDAS Kubernetes applications -----------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_k8s_restart_and_status(emulator, sdk, creds_named, poll, flavour, key):
    creds = creds_named[key]
    restarted = sdk.call(flavour, "RestartK8sApplication", creds, AppId=TEST_K8S_APP_ID, Timeout=60)
    assert (restarted["Code"], restarted["Message"]) == (200, "success")
    order_id = restarted["ChangeOrderId"]

    listed = sdk.call(flavour, "ListRecentChangeOrder", creds, AppId=TEST_K8S_APP_ID)
    (item,) = listed["ChangeOrderList"]["ChangeOrder"]
    assert item["ChangeOrderId"] == order_id
    assert "Restart" in item["CoTypeCode"] and item["Source"] == "pop"

    def finished():
        info = sdk.call(flavour, "GetChangeOrderInfo", creds, ChangeOrderId=order_id)
        status = info["changeOrderInfo"]["Status"]
        return status if status not in (0, 1) else None

    assert poll(finished) == 2
    entries = emulator.journal()
    restart = next(e for e in entries if e["action"] == "RestartK8sApplication")
    assert (restart["method"], restart["path"]) == ("POST", "/pop/v5/k8s/acs/restart_k8s_app")
    assert restart["query"]["Timeout"] == "60"
    assert {e["signature"] for e in entries} == {flavour}
    (order,) = emulator.state()["edas_change_orders"]
    assert order["timeout_s"] == 60


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_k8s_refusals(emulator, sdk, flavour):
    emulator.seed({"edas_k8s_applications": [{"app_id": TEST_K8S_APP_ID, "change_duration_s": 60}]})
    sdk.call(flavour, "RestartK8sApplication", AppId=TEST_K8S_APP_ID)
    assert sdk.call(flavour, "RestartK8sApplication", AppId=TEST_K8S_APP_ID)["Code"] == 603
    assert sdk.call(flavour, "RestartK8sApplication", AppId="no-such-app")["Code"] == 601
    # each restart takes only its own cluster type
    assert sdk.call(flavour, "RestartK8sApplication", AppId=TEST_APP_ID)["Code"] == 605
    assert sdk.call(flavour, "RestartApplication", AppId=TEST_K8S_APP_ID)["Code"] == 605
    for bad in (0, -1):
        with pytest.raises(Exception) as caught:
            sdk.call(flavour, "RestartK8sApplication", AppId=TEST_K8S_APP_ID, Timeout=bad)
        assert (caught.value.status, caught.value.code) == (400, "InvalidParameter")
    assert len(emulator.state()["edas_change_orders"]) == 1


def test_k8s_failing_order_and_wrong_version(emulator, sdk, poll):
    emulator.seed(
        {"edas_k8s_applications": [{"app_id": TEST_K8S_APP_ID, "change_outcome": "failed"}]}
    )
    order_id = sdk.call("v3", "RestartK8sApplication", AppId=TEST_K8S_APP_ID)["ChangeOrderId"]

    def finished():
        info = sdk.call("v3", "GetChangeOrderInfo", ChangeOrderId=order_id)["changeOrderInfo"]
        return info if info["Status"] not in (0, 1) else None

    info = poll(finished)
    assert info["Status"] == 3
    assert info["CoType"] == "Restart K8s Application"
    with pytest.raises(Exception) as caught:
        sdk.raw(
            "v3",
            "POST",
            "/pop/v5/k8s/acs/restart_k8s_app",
            "RestartK8sApplication",
            SAE_VERSION,
            query={"AppId": TEST_K8S_APP_ID},
        )
    assert (caught.value.status, caught.value.code) == (400, "InvalidVersion")
    with pytest.raises(Exception) as caught:
        sdk.raw(
            "v3",
            "POST",
            "/pop/v5/k8s/acs/restart_k8s_app",
            "RestartK8sApplication",
            "2017-08-01",
            form={"AppId": TEST_K8S_APP_ID},
        )
    assert (caught.value.status, caught.value.code) == (400, "MissingParameter")
