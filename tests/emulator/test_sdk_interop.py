"""The official SDKs, each with its own signature flavour, talk to the emulator successfully."""

from __future__ import annotations

import json

import pytest

from testbed.emulator import (
    TEST_ACCESS_KEY_SECRET,
    TEST_APP_ID,
    TEST_ECC_IDS,
    TEST_ENV_ID,
    TEST_STS_ACCESS_KEY_SECRET,
    TEST_STS_TOKEN,
)

pytestmark = pytest.mark.sdk

FLAVOURS = ("roa", "tea-v2", "v3")
#: Every scheme the official Web+ SDKs sign with (V3 is EDAS-only: see test_strictness).
WEBPLUS_FLAVOURS = ("roa", "tea-v2")
KEYS = ("permanent", "sts")


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_edas_restart_and_status_apis(emulator, sdk, creds_named, poll, flavour, key):
    creds = creds_named[key]
    restarted = sdk.call(flavour, "RestartApplication", creds, AppId=TEST_APP_ID)
    assert restarted["Code"] == 200
    assert restarted["Message"] == "success"
    assert restarted["RequestId"]
    order_id = restarted["ChangeOrderId"]

    info = sdk.call(flavour, "GetChangeOrderInfo", creds, ChangeOrderId=order_id)
    assert info["Code"] == 200
    assert info["changeOrderInfo"]["ChangeOrderId"] == order_id
    assert info["changeOrderInfo"]["Status"] in (0, 1, 2)
    assert info["changeOrderInfo"]["Targets"]["Items"] == TEST_ECC_IDS

    listed = sdk.call(flavour, "ListRecentChangeOrder", creds, AppId=TEST_APP_ID)
    orders = listed["ChangeOrderList"]["ChangeOrder"]
    assert [o["ChangeOrderId"] for o in orders] == [order_id]
    assert orders[0]["CoTypeCode"] == "CoRestart"
    assert orders[0]["CoType"] == "Restart Application"
    assert orders[0]["Source"] == "pop"
    assert orders[0]["AppId"] == TEST_APP_ID

    def finished():
        body = sdk.call(flavour, "GetChangeOrderInfo", creds, ChangeOrderId=order_id)
        status = body["changeOrderInfo"]["Status"]
        return status if status not in (0, 1) else None

    assert poll(finished) == 2

    entries = emulator.journal()
    assert {e["signature"] for e in entries} == {flavour}
    assert {e["access_key_id"] for e in entries} == {creds.access_key_id}
    assert all(e["status"] == 200 for e in entries)
    dumped = json.dumps(entries)
    for secret in (TEST_ACCESS_KEY_SECRET, TEST_STS_ACCESS_KEY_SECRET, TEST_STS_TOKEN):
        assert secret not in dumped


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("flavour", WEBPLUS_FLAVOURS)
def test_webplus_restart_and_status_apis(emulator, sdk, creds_named, poll, flavour, key):
    creds = creds_named[key]
    # The legacy webplus SDK has no setters for the batch parameters; add them as body params.
    batch = {"BatchSize": 1, "BatchInterval": 0, "PauseBetweenBatches": False}
    restarted = sdk.call(flavour, "RestartAppEnv", creds, EnvId=TEST_ENV_ID, **batch)
    assert restarted["Code"] == "OK"
    assert restarted["Message"] == "success"
    change = restarted["EnvChange"]
    assert change["EnvId"] == TEST_ENV_ID
    assert change["ChangeId"].startswith("wc-")
    assert int(change["StartTime"]) > 1_600_000_000_000

    status = sdk.call(flavour, "DescribeAppEnvStatus", creds, EnvId=TEST_ENV_ID)["EnvStatus"]
    assert status["EnvId"] == TEST_ENV_ID
    assert status["LatestChangeId"] == change["ChangeId"]

    def finished():
        body = sdk.call(
            flavour, "DescribeChange", creds, EnvId=TEST_ENV_ID, ChangeId=change["ChangeId"]
        )
        return body["Change"] if body["Change"]["ChangeFinished"] else None

    done = poll(finished)
    assert done["ChangeSucceed"] is True
    assert done["ActionName"] == "RestartApp"
    assert done["FinishTime"] >= done["CreateTime"]

    status = sdk.call(flavour, "DescribeAppEnvStatus", creds, EnvId=TEST_ENV_ID)["EnvStatus"]
    assert status["EnvStatus"] == "RUNNING"
    assert status["ApplyingChange"] is False

    restart_entry = next(e for e in emulator.journal() if e["action"] == "RestartAppEnv")
    assert restart_entry["form"]["EnvId"] == TEST_ENV_ID
    assert restart_entry["form"]["PauseBetweenBatches"] in ("False", "false")
    assert restart_entry["signature"] == flavour


def _probes(flavour: str):
    """A read-only call per product that accepts ``flavour``."""
    yield "ListRecentChangeOrder", {"AppId": TEST_APP_ID}
    if flavour in WEBPLUS_FLAVOURS:
        yield "DescribeAppEnvStatus", {"EnvId": TEST_ENV_ID}


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_sdk_sees_documented_errors(sdk, wrong_creds, flavour):
    if flavour in WEBPLUS_FLAVOURS:
        with pytest.raises(Exception) as caught:
            sdk.call(flavour, "DescribeAppEnvStatus", EnvId="we-does-not-exist")
        assert (caught.value.status, caught.value.code) == (403, "ResourceAuthFailed")

    for operation, params in _probes(flavour):
        with pytest.raises(Exception) as caught:
            sdk.call(flavour, operation, wrong_creds["unknown_key"], **params)
        assert (caught.value.status, caught.value.code) == (404, "InvalidAccessKeyId.NotFound")

        with pytest.raises(Exception) as caught:
            sdk.call(flavour, operation, wrong_creds["wrong_secret"], **params)
        assert (caught.value.status, caught.value.code) == (400, "SignatureDoesNotMatch")
        assert "server string to sign is:" in caught.value.message

        for name, code in (
            ("sts_wrong_token", "InvalidSecurityToken.MismatchWithAccessKey"),
            ("sts_without_token", "MissingSecurityToken"),
        ):
            with pytest.raises(Exception) as caught:
                sdk.call(flavour, operation, wrong_creds[name], **params)
            assert (caught.value.status, caught.value.code) == (400, code)

    # EDAS business errors: HTTP 200 with an integer body Code, which no SDK raises.
    body = sdk.call(flavour, "RestartApplication", AppId="no-such-app")
    assert body["Code"] == 601
    assert "no-such-app" in body["Message"]


@pytest.mark.parametrize("flavour", WEBPLUS_FLAVOURS)
def test_webplus_second_restart_while_running_is_env_on_changing(emulator, sdk, flavour):
    emulator.seed({"webplus_environments": [{"env_id": TEST_ENV_ID, "change_duration_s": 60}]})
    sdk.call(flavour, "RestartAppEnv", EnvId=TEST_ENV_ID)
    with pytest.raises(Exception) as caught:
        sdk.call(flavour, "RestartAppEnv", EnvId=TEST_ENV_ID)
    assert (caught.value.status, caught.value.code) == (400, "EnvOnChanging")
