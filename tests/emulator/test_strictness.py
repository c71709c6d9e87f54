"""The emulator refuses what the gateway refuses, even when it is correctly signed.

Each request here is signed by an official SDK's generic request (aliyun-python-sdk-core
``CommonRequest`` or tea-openapi ``call_api``), so the signature is right and only the
leniency under test is wrong: a scheme the product's SDKs never send, a missing or wrong
version, an action that is not the route's, a parameter in the wrong place.
"""

from __future__ import annotations

import pytest

from testbed.emulator import TEST_APP_ID, TEST_ENV_ID

pytestmark = pytest.mark.sdk

EDAS_VERSION = "2017-08-01"
WEBPLUS_VERSION = "2019-03-20"
EDAS_FLAVOURS = ("roa", "tea-v2", "v3")
WEBPLUS_FLAVOURS = ("roa", "tea-v2")

CO_RESTART = ("POST", "/pop/v5/changeorder/co_restart")
CO_INFO = ("POST", "/pop/v5/changeorder/change_order_info")
CO_LIST = ("POST", "/pop/v5/changeorder/change_order_list")
ENV_RESTART = ("POST", "/pop/v1/wam/appEnv/restart")
ENV_STATUS = ("GET", "/pop/v1/wam/appEnv/status")
CHANGE_INFO = ("GET", "/pop/v1/wam/changeInfo")


def _refused(call) -> tuple[int | None, str, str]:
    with pytest.raises(Exception) as caught:
        call()
    return caught.value.status, caught.value.code, caught.value.message


def _nothing_applied(emulator) -> None:
    state = emulator.state()
    assert state["edas_change_orders"] == [] and state["webplus_changes"] == []


# -- schemes per product ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "action", "params"),
    [
        (ENV_RESTART, "RestartAppEnv", {"form": {"EnvId": TEST_ENV_ID}}),
        (ENV_STATUS, "DescribeAppEnvStatus", {"query": {"EnvId": TEST_ENV_ID}}),
        (CHANGE_INFO, "DescribeChange", {"query": {"EnvId": TEST_ENV_ID, "ChangeId": "wc-x"}}),
    ],
)
def test_webplus_refuses_v3_which_no_webplus_sdk_sends(emulator, sdk, route, action, params):
    status, code, message = _refused(
        lambda: sdk.raw("v3", *route, action, WEBPLUS_VERSION, **params)
    )
    assert (status, code) == (400, "IncompleteSignature")
    assert "ACS3-HMAC-SHA256" in message and "HMAC-SHA1" in message
    (entry,) = emulator.journal()
    assert (entry["signature"], entry["code"]) == ("v3", "IncompleteSignature")
    _nothing_applied(emulator)


def test_webplus_refuses_v3_from_the_sdk_machinery_too(emulator, sdk):
    # The same through the test helper's tea-openapi V3 path for Web+ operations.
    status, code, _ = _refused(lambda: sdk.call("v3", "RestartAppEnv", EnvId=TEST_ENV_ID))
    assert (status, code) == (400, "IncompleteSignature")
    _nothing_applied(emulator)


@pytest.mark.parametrize("flavour", EDAS_FLAVOURS)
def test_edas_accepts_each_scheme_its_sdks_send(emulator, sdk, flavour):
    body = sdk.raw(
        flavour, *CO_LIST, "ListRecentChangeOrder", EDAS_VERSION, query={"AppId": TEST_APP_ID}
    )
    assert body["Code"] == 200
    assert [e["signature"] for e in emulator.journal()] == [flavour]


# -- version ------------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", EDAS_FLAVOURS)
def test_edas_wrong_version_is_invalid_version(emulator, sdk, flavour):
    status, code, message = _refused(
        lambda: sdk.raw(
            flavour,
            *CO_RESTART,
            "RestartApplication",
            WEBPLUS_VERSION,
            query={"AppId": TEST_APP_ID},
        )
    )
    assert (status, code) == (400, "InvalidVersion")
    assert message == "Specified parameter Version is not valid."
    _nothing_applied(emulator)


@pytest.mark.parametrize("flavour", WEBPLUS_FLAVOURS)
def test_webplus_wrong_version_is_invalid_version(emulator, sdk, flavour):
    status, code, _ = _refused(
        lambda: sdk.raw(
            flavour, *ENV_RESTART, "RestartAppEnv", EDAS_VERSION, form={"EnvId": TEST_ENV_ID}
        )
    )
    assert (status, code) == (400, "InvalidVersion")
    _nothing_applied(emulator)


@pytest.mark.parametrize(
    ("flavour", "operation", "params"),
    [
        ("roa", "RestartApplication", {"AppId": TEST_APP_ID}),
        ("tea-v2", "RestartApplication", {"AppId": TEST_APP_ID}),
        ("v3", "RestartApplication", {"AppId": TEST_APP_ID}),
        ("roa", "RestartAppEnv", {"EnvId": TEST_ENV_ID}),
        ("tea-v2", "RestartAppEnv", {"EnvId": TEST_ENV_ID}),
    ],
)
def test_missing_version_is_missing_parameter(emulator, capture_server, flavour, operation, params):
    # Every official SDK sends x-acs-version; without it the gateway cannot find the API, so
    # the answer comes before the signature is looked at.
    captured = capture_server.capture(flavour, operation, **params)
    assert captured.header("x-acs-version")
    status, _, body = captured.without_header("x-acs-version").send(emulator.host)
    assert (status, body["Code"]) == (400, "MissingParameter")
    assert '"Version"' in body["Message"]
    _nothing_applied(emulator)


def test_an_unversioned_request_is_not_faulted(emulator, capture_server):
    # Faults come after the route: a request naming no version never reaches them.
    captured = capture_server.capture("roa", "ListRecentChangeOrder", AppId=TEST_APP_ID)
    emulator.set_faults({"throttle_count": 1})
    status, _, body = captured.without_header("x-acs-version").send(emulator.host)
    assert (status, body["Code"]) == (400, "MissingParameter")
    assert emulator.get_faults()["throttle_count"] == 1


# -- action -------------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", EDAS_FLAVOURS)
@pytest.mark.parametrize(
    ("route", "action", "query"),
    [
        # A status call carrying the restart's action name, and the other way round.
        (CO_INFO, "RestartApplication", {"ChangeOrderId": "x", "AppId": TEST_APP_ID}),
        (CO_LIST, "GetChangeOrderInfo", {"AppId": TEST_APP_ID}),
        (CO_RESTART, "ListRecentChangeOrder", {"AppId": TEST_APP_ID}),
    ],
)
def test_edas_action_must_be_the_routes(emulator, sdk, flavour, route, action, query):
    status, code, message = _refused(
        lambda: sdk.raw(flavour, *route, action, EDAS_VERSION, query=query)
    )
    assert (status, code) == (404, "InvalidAction.NotFound")
    assert message == "Specified api is not found, please check your url and method."
    _nothing_applied(emulator)


@pytest.mark.parametrize("flavour", WEBPLUS_FLAVOURS)
@pytest.mark.parametrize(
    ("route", "action", "params"),
    [
        (ENV_STATUS, "DescribeChange", {"query": {"EnvId": TEST_ENV_ID}}),
        (CHANGE_INFO, "DescribeAppEnvStatus", {"query": {"EnvId": TEST_ENV_ID, "ChangeId": "x"}}),
        (ENV_RESTART, "DescribeAppEnvStatus", {"form": {"EnvId": TEST_ENV_ID}}),
    ],
)
def test_webplus_action_must_be_the_routes(emulator, sdk, flavour, route, action, params):
    status, code, _ = _refused(lambda: sdk.raw(flavour, *route, action, WEBPLUS_VERSION, **params))
    assert (status, code) == (404, "InvalidAction.NotFound")
    _nothing_applied(emulator)


def test_v3_requires_an_action(emulator, capture_server):
    captured = capture_server.capture("v3", "ListRecentChangeOrder", AppId=TEST_APP_ID)
    status, _, body = captured.without_header("x-acs-action").send(emulator.host)
    assert (status, body["Code"]) == (400, "MissingParameter")
    assert '"Action"' in body["Message"]


def test_legacy_roa_without_an_action_is_routed_by_its_path(emulator, sdk):
    # Both HMAC-SHA1 SDKs send x-acs-action, but ROA is routed by method and path, so only a
    # wrong action is refused; a request with none (CommonRequest with no action) is served.
    body = sdk.raw("roa", *CO_LIST, None, EDAS_VERSION, query={"AppId": TEST_APP_ID})
    assert body["Code"] == 200
    (entry,) = emulator.journal()
    assert (entry["action"], entry["status"]) == ("ListRecentChangeOrder", 200)


# -- each parameter in its one place ------------------------------------------------------------


@pytest.mark.parametrize("flavour", EDAS_FLAVOURS)
@pytest.mark.parametrize(
    ("route", "action", "form", "missing"),
    [
        (CO_RESTART, "RestartApplication", {"AppId": TEST_APP_ID}, "AppId"),
        (CO_LIST, "ListRecentChangeOrder", {"AppId": TEST_APP_ID}, "AppId"),
        (CO_INFO, "GetChangeOrderInfo", {"ChangeOrderId": "x"}, "ChangeOrderId"),
    ],
)
def test_edas_parameters_in_the_body_are_not_seen(
    emulator, sdk, flavour, route, action, form, missing
):
    status, code, message = _refused(
        lambda: sdk.raw(flavour, *route, action, EDAS_VERSION, form=form)
    )
    assert (status, code) == (400, "MissingParameter")
    assert f'"{missing}"' in message
    _nothing_applied(emulator)


@pytest.mark.parametrize("flavour", WEBPLUS_FLAVOURS)
def test_webplus_restart_env_id_in_the_query_is_not_seen(emulator, sdk, flavour):
    status, code, message = _refused(
        lambda: sdk.raw(
            flavour, *ENV_RESTART, "RestartAppEnv", WEBPLUS_VERSION, query={"EnvId": TEST_ENV_ID}
        )
    )
    assert (status, code) == (400, "MissingParameter")
    assert '"EnvId"' in message
    _nothing_applied(emulator)


@pytest.mark.parametrize("flavour", WEBPLUS_FLAVOURS)
def test_webplus_restart_batch_settings_are_read_from_the_body_only(emulator, sdk, flavour):
    # A bad BatchSize in the query is not read; the same in the form body is.
    body = sdk.raw(
        flavour,
        *ENV_RESTART,
        "RestartAppEnv",
        WEBPLUS_VERSION,
        query={"BatchSize": "abc", "RegionId": "cn-hangzhou"},
        form={"EnvId": TEST_ENV_ID},
    )
    assert body["Code"] == "OK"
    (change,) = emulator.state()["webplus_changes"]
    assert change["batch_size"] is None
    status, code, _ = _refused(
        lambda: sdk.raw(
            flavour,
            *ENV_RESTART,
            "RestartAppEnv",
            WEBPLUS_VERSION,
            form={"EnvId": TEST_ENV_ID, "BatchSize": "abc"},
        )
    )
    assert (status, code) == (400, "InvalidParameter")


@pytest.mark.parametrize("flavour", WEBPLUS_FLAVOURS)
@pytest.mark.parametrize(
    ("route", "action", "form"),
    [
        (ENV_STATUS, "DescribeAppEnvStatus", {"EnvId": TEST_ENV_ID}),
        (CHANGE_INFO, "DescribeChange", {"EnvId": TEST_ENV_ID, "ChangeId": "x"}),
    ],
)
def test_webplus_status_parameters_in_a_body_are_not_seen(
    emulator, sdk, flavour, route, action, form
):
    status, code, _ = _refused(lambda: sdk.raw(flavour, *route, action, WEBPLUS_VERSION, form=form))
    assert (status, code) == (400, "MissingParameter")


def test_webplus_restart_json_body_is_not_a_form(emulator, sdk):
    # tea v2 do_roarequest sends JSON; RestartAppEnv's own SDK sends a form, which is all
    # the gateway reads.
    status, code, _ = _refused(
        lambda: sdk.raw(
            "tea-v2",
            *ENV_RESTART,
            "RestartAppEnv",
            WEBPLUS_VERSION,
            form={"EnvId": TEST_ENV_ID},
            json_body=True,
        )
    )
    assert (status, code) == (400, "MissingParameter")
    _nothing_applied(emulator)
