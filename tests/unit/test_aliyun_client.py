"""AliyunClient: each operation on the wire (EDAS, Web+, and at the end SAE 2019-05-06 and EDAS
Kubernetes: the signer and endpoint of each product, SAE's answers), argument checks, retries
under one deadline, and how a restart whose answer was lost is checked instead of blindly
resent.

HTTP is faked with a requests transport adapter (no network), except for a few tests that use a
tiny stdlib HTTP server on 127.0.0.1 to exercise real socket failures. Clocks and sleeps are
injected: nothing here waits for real time.

Every restart send is preceded by a snapshot read (``ListRecentChangeOrder`` for EDAS,
``DescribeAppEnvStatus`` for Web+); unless a test scripts them, the fake cloud answers those
with "no change exists".
"""

from __future__ import annotations

import http.client
import http.server
import json
import logging
import socket
import threading
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import urllib3.exceptions

import restart_trigger
import restart_trigger.aliyun as aliyun
from restart_trigger.aliyun import (
    AliyunClient,
    AuthError,
    BusinessError,
    Credentials,
    DeadlineExceeded,
    InvalidResponseError,
    NotFoundError,
    RestartOutcomeUnknown,
    RestartResult,
    ServerError,
    ThrottlingError,
    TransportError,
)
from restart_trigger.aliyun import client as client_module
from restart_trigger.aliyun.auth import AcsRoaSha1Auth, AcsV3Auth
from restart_trigger.aliyun.endpoints import PRODUCTS
from restart_trigger.aliyun.recovery import ANSWERED_SETTLE_WINDOW, DEFAULT_SETTLE_WINDOW
from restart_trigger.aliyun.transport import DeadlineAdapter
from restart_trigger.backoff import Backoff, Deadline
from restart_trigger.targets.edas import (
    get_change_order_info,
    list_recent_change_orders,
    restart_application,
)
from restart_trigger.targets.k8s import restart_k8s_application
from restart_trigger.targets.sae import (
    describe_change_order,
    list_change_orders,
    restart_sae_application,
)
from restart_trigger.targets.webplus import describe_change, restart_app_env
from tests.unit.fakes import FakeCloud, FakeTime, fake_session, query_of

KEY_ID = "test-access-key-id"
SECRET = "test-secret-value-0123456789"
TOKEN = "test-sts-token-abcdefghijklmnop"
EDAS = "http://127.0.0.1:18080"
WEBPLUS = "http://127.0.0.1:18081"


# --- fakes ------------------------------------------------------------------------------------


def make_client(
    cloud: FakeCloud, *, credentials=None, max_attempts=4, deadline=600.0, fake_time=None, **kwargs
):
    """A client under one fake-time deadline whose retries wait exactly 0.5, 1, 2, 4, 4, ... s."""
    fake_time = fake_time or FakeTime()
    backoff = Backoff(
        first=0.5, cap=4.0, jitter=True, max_attempts=max_attempts, random=lambda: 1.0
    )
    options = {"read_backoff": backoff, "restart_backoff": backoff, **kwargs}
    return AliyunClient(
        credentials or Credentials(KEY_ID, SECRET),
        region="cn-hangzhou",
        endpoints={"edas": EDAS, "webplus": WEBPLUS},
        deadline=Deadline(deadline, clock=fake_time.clock, sleep=fake_time.sleep),
        session=fake_session(cloud),
        **options,
    )


def refused() -> requests.exceptions.ConnectionError:
    reason = urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection")
    return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", reason))


def dropped() -> requests.exceptions.ConnectionError:
    reason = urllib3.exceptions.ProtocolError(
        "Connection aborted.", http.client.RemoteDisconnected("closed without response")
    )
    return requests.exceptions.ConnectionError(reason)


def verify_signature(request: requests.PreparedRequest, secret: str = SECRET) -> None:
    """Recompute the signature (V3 or ROA HMAC-SHA1) with the official SDK helper and compare."""
    from types import SimpleNamespace

    from alibabacloud_openapi_util.client import Client as OpenApiUtil

    auth = request.headers["Authorization"]
    if auth.startswith("acs "):
        verify_roa_signature(request, secret)
        return
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    parts = urlsplit(request.url)
    view = SimpleNamespace(
        method=request.method,
        pathname=parts.path,
        query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        headers={name: request.headers[name] for name in signed},
    )
    key_id = auth.split("Credential=")[1].split(",")[0]
    expected = OpenApiUtil.get_authorization(
        view, "ACS3-HMAC-SHA256", request.headers["x-acs-content-sha256"], key_id, secret
    )
    assert auth == expected


def verify_roa_signature(request: requests.PreparedRequest, secret: str = SECRET) -> None:
    """Rebuild the ROA HMAC-SHA1 string to sign with tea's own helper from what was sent."""
    from types import SimpleNamespace

    from alibabacloud_tea_openapi.utils import Utils

    parts = urlsplit(request.url)
    view = SimpleNamespace(
        method=request.method,
        pathname=parts.path,
        query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        headers={k.lower(): v for k, v in request.headers.items()},
    )
    key_id = request.headers["Authorization"][4:].rpartition(":")[0]
    signature = Utils.get_roasignature(Utils.get_string_to_sign(view), secret)
    assert request.headers["Authorization"] == f"acs {key_id}:{signature}"


RESTART_OK = (
    200,
    {"ChangeOrderId": "co-new", "Code": 200, "Message": "success", "RequestId": "r1"},
)
ENV_RESTART_OK = (
    200,
    {
        "Code": "OK",
        "Message": "success",
        "RequestId": "r2",
        "EnvChange": {"ChangeId": "wc-new", "EnvId": "we-1", "StartTime": 1704164646000},
    },
)


# --- requests on the wire ---------------------------------------------------------------------


def test_restart_application_posts_signed_query_with_the_common_headers():
    cloud = FakeCloud().on("RestartApplication", RESTART_OK)
    result = restart_application(make_client(cloud), "app-1", ["ecc-1", "ecc-2"])

    assert result == RestartResult("co-new", "r1")
    (request,) = cloud.calls("RestartApplication")
    assert request.method == "POST"
    assert urlsplit(request.url).path == "/pop/v5/changeorder/co_restart"
    assert query_of(request) == {"AppId": "app-1", "EccInfo": "ecc-1,ecc-2"}
    assert request.headers["x-acs-action"] == "RestartApplication"
    assert request.headers["x-acs-version"] == "2017-08-01"
    assert request.headers["x-acs-region-id"] == "cn-hangzhou"
    assert request.headers["accept"] == "application/json"
    assert request.headers["user-agent"].startswith("restart-trigger/")
    assert request.headers["Host"] == "127.0.0.1:18080"
    assert "x-acs-region-id" in request.headers["Authorization"]
    verify_signature(request)


def test_restart_app_env_sends_a_form_body_with_booleans_as_the_sdk_writes_them():
    cloud = FakeCloud().on("RestartAppEnv", ENV_RESTART_OK)
    client = make_client(cloud, credentials=Credentials(KEY_ID, SECRET, TOKEN))
    result = restart_app_env(
        client, "we-1", batch_size=2, batch_interval=0, pause_between_batches=False
    )

    assert result == RestartResult("wc-new", "r2")
    (request,) = cloud.calls("RestartAppEnv")
    assert (request.method, urlsplit(request.url).path) == ("POST", "/pop/v1/wam/appEnv/restart")
    assert query_of(request) == {"RegionId": "cn-hangzhou"}
    assert request.body == b"BatchInterval=0&BatchSize=2&EnvId=we-1&PauseBetweenBatches=False"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["x-acs-version"] == "2019-03-20"
    assert request.headers["x-acs-security-token"] == TOKEN
    assert request.headers["Authorization"].startswith(f"acs {KEY_ID}:")
    assert "x-acs-region-id" not in request.headers
    verify_signature(request)


def test_pause_between_batches_true_is_sent_as_python_writes_it():
    cloud = FakeCloud().on("RestartAppEnv", ENV_RESTART_OK)
    restart_app_env(make_client(cloud), "we-1", pause_between_batches=True)
    (request,) = cloud.calls("RestartAppEnv")
    assert request.body == b"EnvId=we-1&PauseBetweenBatches=True"


def test_each_product_gets_the_signer_the_table_names_and_auth_replaces_one():
    from restart_trigger.aliyun.auth import AcsRoaSha1Auth, AcsV3Auth

    assert client_module.SIGNERS == {"edas": AcsV3Auth, "webplus": AcsRoaSha1Auth, "sae": AcsV3Auth}
    cloud = FakeCloud().on("DescribeChange", (200, {"Code": "OK", "Change": {}}))
    fixed = AcsRoaSha1Auth(Credentials(KEY_ID, SECRET), nonce=lambda: "fixed-nonce")
    client = make_client(cloud, auth={"webplus": fixed})
    describe_change(client, "we-1", "wc-1")
    list_recent_change_orders(client, "app-1")
    webplus, edas = cloud.requests
    assert webplus.headers["x-acs-signature-nonce"] == "fixed-nonce"
    assert edas.headers["Authorization"].startswith("ACS3-HMAC-SHA256 ")
    with pytest.raises(TypeError, match="map a product"):
        make_client(cloud, auth=fixed)


def test_parameters_left_empty_are_never_sent():
    cloud = FakeCloud().on("RestartApplication", RESTART_OK).on("RestartAppEnv", ENV_RESTART_OK)
    client = make_client(cloud)
    restart_application(client, "app-1", ecc_ids=[])
    restart_app_env(client, "we-1")
    (edas,) = cloud.calls("RestartApplication")
    (webplus,) = cloud.calls("RestartAppEnv")
    assert query_of(edas) == {"AppId": "app-1"}
    assert webplus.body == b"EnvId=we-1"


@pytest.mark.parametrize(
    "call",
    [
        lambda c: restart_application(c, ""),
        lambda c: restart_application(c, "app-1", ["ok", " "]),
        lambda c: restart_app_env(c, "we-1", batch_percent=0),
        lambda c: restart_app_env(c, "we-1", batch_size=True),
        lambda c: restart_app_env(c, "we-1", pause_between_batches="yes"),
        lambda c: describe_change(c, "we-1", ""),
    ],
)
def test_invalid_arguments_are_refused_before_anything_is_sent(call):
    cloud = FakeCloud()
    with pytest.raises(ValueError):
        call(make_client(cloud))
    assert cloud.requests == []


def test_read_operations_use_the_documented_paths_and_return_their_sections():
    cloud = (
        FakeCloud()
        .on("GetChangeOrderInfo", (200, {"Code": 200, "changeOrderInfo": {"Status": 2}}))
        .on(
            "ListRecentChangeOrder",
            (200, {"Code": 200, "ChangeOrderList": {"ChangeOrder": [{"ChangeOrderId": "a"}]}}),
        )
        .on("DescribeChange", (200, {"Code": "OK", "Change": {"ChangeFinished": True}}))
    )
    client = make_client(cloud)
    assert get_change_order_info(client, "co-1") == {"Status": 2}
    assert list_recent_change_orders(client, "app-1") == [{"ChangeOrderId": "a"}]
    assert describe_change(client, "we-1", "wc-1") == {"ChangeFinished": True}

    seen = [(r.method, urlsplit(r.url).path, query_of(r)) for r in cloud.requests]
    assert seen == [
        ("POST", "/pop/v5/changeorder/change_order_info", {"ChangeOrderId": "co-1"}),
        ("POST", "/pop/v5/changeorder/change_order_list", {"AppId": "app-1"}),
        (
            "GET",
            "/pop/v1/wam/changeInfo",
            {"EnvId": "we-1", "ChangeId": "wc-1", "RegionId": "cn-hangzhou"},
        ),
    ]
    for request in cloud.requests:
        verify_signature(request)


def test_an_empty_change_order_list_is_an_empty_list():
    cloud = FakeCloud().on("ListRecentChangeOrder", (200, {"Code": 200, "ChangeOrderList": {}}))
    assert list_recent_change_orders(make_client(cloud), "app-1") == []


def test_a_read_without_its_section_is_an_invalid_response():
    cloud = FakeCloud().on("DescribeChange", (200, {"Code": "OK", "RequestId": "r"}))
    with pytest.raises(InvalidResponseError, match="no Change"):
        describe_change(make_client(cloud, max_attempts=1), "we-1", "wc-1")


# --- final errors are not retried -------------------------------------------------------------


def test_edas_http_200_with_body_code_other_than_200_is_a_business_error_and_not_retried():
    cloud = FakeCloud().on(
        "RestartApplication", (200, {"Code": 500, "Message": "app busy", "RequestId": "r"})
    )
    with pytest.raises(BusinessError) as excinfo:
        restart_application(make_client(cloud), "app-1")
    assert (excinfo.value.http_status, excinfo.value.code) == (200, "500")
    assert len(cloud.calls("RestartApplication")) == 1


def test_webplus_4xx_errors_are_typed_and_not_retried():
    cloud = (
        FakeCloud()
        .on(
            "RestartAppEnv",
            (400, {"Code": "EnvOnChanging", "Message": "wait", "RequestId": "r"}),
        )
        .on("DescribeChange", (404, {"Code": "ChangeNotExists", "Message": "no"}))
    )
    client = make_client(cloud)
    with pytest.raises(BusinessError, match="EnvOnChanging"):
        restart_app_env(client, "we-1")
    with pytest.raises(NotFoundError):
        describe_change(client, "we-1", "wc-x")
    assert len(cloud.calls("RestartAppEnv")) == 1
    assert len(cloud.calls("DescribeChange")) == 1


def test_signature_errors_are_auth_errors_and_not_retried():
    cloud = FakeCloud().on(
        "DescribeChange", (400, {"Code": "SignatureDoesNotMatch", "Message": "bad"})
    )
    with pytest.raises(AuthError):
        describe_change(make_client(cloud), "we-1", "wc-1")
    assert len(cloud.requests) == 1


# --- retries ----------------------------------------------------------------------------------


def test_throttling_is_retried_after_the_server_requested_delay_and_re_signed():
    fake_time = FakeTime()
    cloud = FakeCloud().on(
        "DescribeChange",
        (400, {"Code": "Throttling.User", "Message": "slow"}, {"x-acs-retry-after": "2000"}),
        (200, {"Code": "OK", "Change": {"ChangeId": "wc-1"}}),
    )
    client = make_client(cloud, fake_time=fake_time)
    assert describe_change(client, "we-1", "wc-1") == {"ChangeId": "wc-1"}
    assert fake_time.sleeps == [2.0]
    first, second = cloud.requests
    assert first.headers["x-acs-signature-nonce"] != second.headers["x-acs-signature-nonce"]
    verify_signature(second)


def test_http_429_is_throttling_and_is_retried_with_backoff():
    fake_time = FakeTime()
    cloud = FakeCloud().on(
        "ListRecentChangeOrder",
        (429, {"Code": "TooManyRequests", "Message": "m"}),
        (200, {"Code": 200, "ChangeOrderList": {"ChangeOrder": []}}),
    )
    assert list_recent_change_orders(make_client(cloud, fake_time=fake_time), "app-1") == []
    assert fake_time.sleeps == [0.5]


def test_server_errors_on_reads_are_retried_until_max_attempts_then_raised():
    fake_time = FakeTime()
    cloud = FakeCloud().on("GetChangeOrderInfo", (500, {"Code": "InternalError", "Message": "x"}))
    with pytest.raises(ServerError):
        get_change_order_info(make_client(cloud, max_attempts=3, fake_time=fake_time), "co-1")
    assert len(cloud.requests) == 3
    assert fake_time.sleeps == [0.5, 1.0]


def test_retries_stop_at_the_deadline():
    fake_time = FakeTime()
    cloud = FakeCloud().on("GetChangeOrderInfo", (503, {"Code": "ServiceUnavailable"}))
    client = make_client(cloud, max_attempts=50, deadline=5.0, fake_time=fake_time)
    with pytest.raises(ServerError):
        get_change_order_info(client, "co-1")
    assert sum(fake_time.sleeps) <= 5.0
    assert len(cloud.requests) < 50


def test_a_read_is_retried_after_any_transport_failure():
    cloud = FakeCloud().on(
        "DescribeChange",
        requests.exceptions.ReadTimeout("read timed out"),
        (200, {"Code": "OK", "Change": {"ChangeId": "wc-1"}}),
    )
    assert describe_change(make_client(cloud), "we-1", "wc-1") == {"ChangeId": "wc-1"}


# --- the default patience -------------------------------------------------------------------


def client_with_default_backoff(cloud: FakeCloud, fake_time: FakeTime) -> AliyunClient:
    return AliyunClient(
        Credentials(KEY_ID, SECRET),
        region="cn-hangzhou",
        endpoints={"edas": EDAS, "webplus": WEBPLUS},
        deadline=Deadline(10_000, clock=fake_time.clock, sleep=fake_time.sleep),
        session=fake_session(cloud),
    )


def test_a_read_is_tried_5_times_by_default_with_jittered_waits_of_at_most_20s():
    fake_time = FakeTime()
    cloud = FakeCloud().on("GetChangeOrderInfo", (500, {"Code": "InternalError"}))
    with pytest.raises(ServerError):
        get_change_order_info(client_with_default_backoff(cloud, fake_time), "co-1")
    assert len(cloud.requests) == 5
    assert len(fake_time.sleeps) == 4
    assert all(0 <= s < c for s, c in zip(fake_time.sleeps, [0.5, 1, 2, 4], strict=True))


def test_a_restart_is_tried_10_times_by_default_with_waits_of_at_most_10s():
    fake_time = FakeTime()
    cloud = FakeCloud().on("RestartApplication", (400, {"Code": "Throttling.User"}))
    with pytest.raises(ThrottlingError):
        restart_application(client_with_default_backoff(cloud, fake_time), "app-1")
    assert len(cloud.calls("RestartApplication")) == 10
    assert len(fake_time.sleeps) == 9
    assert max(fake_time.sleeps) < 10.0


def test_default_backoffs_double_from_half_a_second_up_to_their_caps():
    read = Backoff(**{**vars(client_module.READ_BACKOFF), "jitter": False})
    restart = Backoff(**{**vars(client_module.RESTART_BACKOFF), "jitter": False})
    assert [read.delay(n) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 16, 20]
    assert [restart.delay(n) for n in range(1, 7)] == [0.5, 1, 2, 4, 8, 10]
    assert client_module.READ_BACKOFF.jitter and client_module.RESTART_BACKOFF.jitter


# --- one deadline ---------------------------------------------------------------------------


def test_the_callers_deadline_bounds_every_call_of_the_client():
    fake_time = FakeTime()
    cloud = FakeCloud().on("GetChangeOrderInfo", (503, {"Code": "ServiceUnavailable"}))
    client = make_client(cloud, max_attempts=50, deadline=5.0, fake_time=fake_time)
    with pytest.raises(ServerError):
        get_change_order_info(client, "co-1")
    sent = len(cloud.requests)
    fake_time.now = 5.0  # the same deadline, now passed: the next call sends nothing
    with pytest.raises(DeadlineExceeded):
        get_change_order_info(client, "co-1")
    with pytest.raises(DeadlineExceeded):
        restart_application(client, "app-1")
    assert len(cloud.requests) == sent


def test_without_a_deadline_each_call_gets_its_own_of_120_seconds(monkeypatch):
    fake_time = FakeTime()
    made: list[Deadline] = []

    def deadline(seconds):
        made.append(Deadline(seconds, clock=fake_time.clock, sleep=fake_time.sleep))
        return made[-1]

    monkeypatch.setattr(client_module, "Deadline", deadline)
    cloud = (
        FakeCloud()
        .on("GetChangeOrderInfo", (200, {"Code": 200, "changeOrderInfo": {"Status": 2}}))
        .on("RestartApplication", RESTART_OK)
    )
    client = AliyunClient(
        Credentials(KEY_ID, SECRET),
        region="cn-hangzhou",
        endpoints={"edas": EDAS},
        session=fake_session(cloud),
    )
    get_change_order_info(client, "co-1")
    fake_time.now = 500.0  # long after the first call's deadline
    get_change_order_info(client, "co-1")
    restart_application(client, "app-1")
    assert [d.seconds for d in made] == [120.0, 120.0, 120.0]
    assert len(cloud.calls("GetChangeOrderInfo")) == 2
    assert len(cloud.calls("RestartApplication")) == 1


def test_a_restart_cut_at_the_deadline_is_not_looked_up_past_it():
    fake_time = FakeTime()

    def timed_out(request):
        fake_time.now = 60.0  # the read timeout used up what was left
        return requests.exceptions.ReadTimeout("read timed out")

    cloud = FakeCloud().on("RestartApplication", timed_out)
    with pytest.raises(RestartOutcomeUnknown, match="deadline of 60s passed") as excinfo:
        restart_application(make_client(cloud, deadline=60.0, fake_time=fake_time), "app-1")
    assert "EDAS application app-1" in str(excinfo.value)
    assert len(cloud.calls("ListRecentChangeOrder")) == 1  # the snapshot, no look after
    assert len(cloud.calls("RestartApplication")) == 1


# --- restarts whose outcome is unknown --------------------------------------------------------


def edas_orders(*orders):
    return (200, {"Code": 200, "ChangeOrderList": {"ChangeOrder": list(orders)}})


OLD_RESTART = {
    "ChangeOrderId": "co-old",
    "Source": "pop",
    "CoTypeCode": "CoRestartApplication",
    "CreateTime": "2024-01-02 11:04:05",
    "AppId": "app-1",
}
CONSOLE_RESTART = {**OLD_RESTART, "ChangeOrderId": "co-console", "Source": "console"}
OTHER_TYPE = {
    **OLD_RESTART,
    "ChangeOrderId": "co-deploy",
    "CoTypeCode": "CoDeploy",
    "CoType": "Deploy Application",
}
OUR_RESTART = {**OLD_RESTART, "ChangeOrderId": "co-ours"}
SNAPSHOT = edas_orders(OLD_RESTART)
AFTER_OURS = edas_orders(OLD_RESTART, CONSOLE_RESTART, OTHER_TYPE, OUR_RESTART)
READ_TIMEOUT = requests.exceptions.ReadTimeout("read timed out")
HTTP_500 = (500, {"Code": "InternalError", "Message": "try again"})


def actions(cloud: FakeCloud) -> list[str]:
    return [r.headers["x-acs-action"] for r in cloud.requests]


def test_every_restart_send_is_preceded_by_a_snapshot_of_the_apps_change_orders():
    cloud = FakeCloud().on("RestartApplication", (400, {"Code": "Throttling"}), RESTART_OK)
    assert restart_application(make_client(cloud), "app-1").change_id == "co-new"
    assert actions(cloud) == ["ListRecentChangeOrder", "RestartApplication"] * 2
    assert query_of(cloud.calls("ListRecentChangeOrder")[0]) == {"AppId": "app-1"}


def test_refused_connection_means_not_sent_so_a_restart_is_simply_retried():
    cloud = FakeCloud().on("RestartApplication", refused(), RESTART_OK)
    result = restart_application(make_client(cloud), "app-1")
    assert result == RestartResult("co-new", "r1")
    assert actions(cloud) == ["ListRecentChangeOrder", "RestartApplication"] * 2  # no look


def test_connect_timeout_means_not_sent_so_a_restart_is_simply_retried():
    cloud = FakeCloud().on(
        "RestartAppEnv", requests.exceptions.ConnectTimeout("connect timed out"), ENV_RESTART_OK
    )
    assert restart_app_env(make_client(cloud), "we-1").change_id == "wc-new"
    assert actions(cloud) == ["DescribeAppEnvStatus", "RestartAppEnv"] * 2


def test_throttled_or_503_restarts_are_resent_without_looking():
    for refusal in [(400, {"Code": "Throttling", "Message": "m"}), (503, {"Code": "x"})]:
        cloud = FakeCloud().on("RestartApplication", refusal, RESTART_OK)
        assert restart_application(make_client(cloud), "app-1").change_id == "co-new"
        assert len(cloud.calls("ListRecentChangeOrder")) == 2  # the two snapshots


def test_when_the_snapshot_cannot_be_taken_no_restart_is_sent():
    cloud = (
        FakeCloud()
        .on("ListRecentChangeOrder", (500, {"Code": "InternalError", "Message": "down"}))
        .on("RestartApplication", RESTART_OK)
    )
    with pytest.raises(ServerError, match="down"):
        restart_application(make_client(cloud, max_attempts=3), "app-1")
    # every attempt of the restart first takes a snapshot, a read with a read's retries
    assert len(cloud.calls("ListRecentChangeOrder")) == 3 * 3
    assert cloud.calls("RestartApplication") == []


def test_a_snapshot_refused_permission_is_raised_and_the_restart_stays_owed():
    cloud = (
        FakeCloud()
        .on("DescribeAppEnvStatus", (403, {"Code": "Forbidden.RAM", "Message": "no"}))
        .on("RestartAppEnv", ENV_RESTART_OK)
    )
    with pytest.raises(AuthError):
        restart_app_env(make_client(cloud), "we-1")
    assert cloud.calls("RestartAppEnv") == []


def test_edas_read_timeout_adopts_the_one_new_restart_instead_of_resending():
    cloud = (
        FakeCloud()
        .on("RestartApplication", READ_TIMEOUT)
        .on("ListRecentChangeOrder", SNAPSHOT, AFTER_OURS)
    )
    result = restart_application(make_client(cloud), "app-1")
    assert result == RestartResult("co-ours", None)
    assert len(cloud.calls("RestartApplication")) == 1


def test_a_restart_of_the_app_that_existed_before_our_send_is_never_adopted():
    # The restart of the previous `up`, seconds old, then a 500: nothing new appears, so
    # after the settle window the restart is resent; the old one is never taken for ours.
    fake_time = FakeTime()
    recent = edas_orders(OUR_RESTART)  # whatever its CreateTime
    cloud = (
        FakeCloud()
        .on("RestartApplication", HTTP_500, RESTART_OK)
        .on("ListRecentChangeOrder", recent)
    )
    result = restart_application(make_client(cloud, fake_time=fake_time), "app-1")
    assert result == RestartResult("co-new", "r1")
    assert len(cloud.calls("RestartApplication")) == 2
    assert fake_time.now >= ANSWERED_SETTLE_WINDOW


def test_a_restart_applied_after_the_read_timeout_is_found_and_sent_only_once():
    fake_time = FakeTime()

    def applied_later(request):
        fake_time.now += 30.0  # the client's read timeout
        return requests.exceptions.ReadTimeout("read timed out")

    cloud = (
        FakeCloud()
        .on("RestartApplication", applied_later, RESTART_OK)
        # the snapshot, two looks that see nothing yet, then the late restart
        .on("ListRecentChangeOrder", SNAPSHOT, SNAPSHOT, SNAPSHOT, AFTER_OURS)
    )
    result = restart_application(make_client(cloud, fake_time=fake_time), "app-1")
    assert result == RestartResult("co-ours", None)
    assert len(cloud.calls("RestartApplication")) == 1
    assert len(cloud.calls("ListRecentChangeOrder")) == 4  # the snapshot and three looks


def test_two_new_restarts_cannot_be_told_apart_so_none_is_adopted_and_none_is_resent():
    theirs = {**OUR_RESTART, "ChangeOrderId": "co-theirs"}
    cloud = (
        FakeCloud()
        .on("RestartApplication", HTTP_500, RESTART_OK)
        .on("ListRecentChangeOrder", SNAPSHOT, edas_orders(OLD_RESTART, OUR_RESTART, theirs))
    )
    with pytest.raises(RestartOutcomeUnknown) as excinfo:
        restart_application(make_client(cloud), "app-1")
    error = excinfo.value
    assert error.target == "EDAS application app-1"
    assert set(error.candidates) == {"co-ours", "co-theirs"}
    assert "co-ours" in str(error) and "co-theirs" in str(error)
    assert "change orders of EDAS application app-1" in str(error)
    assert len(cloud.calls("RestartApplication")) == 1


def test_a_lost_answer_is_resent_only_after_the_settle_window_showed_nothing_new():
    fake_time = FakeTime()
    cloud = (
        FakeCloud()
        .on("RestartApplication", dropped(), RESTART_OK)
        .on("ListRecentChangeOrder", edas_orders(OLD_RESTART, CONSOLE_RESTART, OTHER_TYPE))
    )
    result = restart_application(make_client(cloud, fake_time=fake_time), "app-1")
    assert result == RestartResult("co-new", "r1")
    assert len(cloud.calls("RestartApplication")) == 2
    assert fake_time.now >= DEFAULT_SETTLE_WINDOW


def test_the_settle_window_is_a_client_setting():
    fake_time = FakeTime()
    cloud = FakeCloud().on("RestartApplication", HTTP_500, RESTART_OK)
    client = make_client(cloud, fake_time=fake_time, settle_window=5.0)
    assert restart_application(client, "app-1").change_id == "co-new"
    assert 5.0 <= fake_time.now < 10.0
    with pytest.raises(ValueError, match="settle_window"):
        make_client(cloud, settle_window=-1)


def test_change_orders_the_caller_already_knows_are_never_taken_for_ours():
    cloud = (
        FakeCloud()
        .on("RestartApplication", HTTP_500, RESTART_OK)
        .on("ListRecentChangeOrder", SNAPSHOT, AFTER_OURS)
    )
    result = restart_application(
        make_client(cloud), "app-1", known_change_ids={"co-ours", "co-other"}
    )
    assert result.change_id == "co-new"


def test_a_single_known_change_id_string_is_not_split_into_characters():
    cloud = (
        FakeCloud()
        .on("RestartApplication", HTTP_500, RESTART_OK)
        .on("ListRecentChangeOrder", SNAPSHOT, AFTER_OURS)
    )
    result = restart_application(make_client(cloud), "app-1", known_change_ids="co-ours")
    assert result.change_id == "co-new"


def env_status(latest):
    return (200, {"Code": "OK", "EnvStatus": {"LatestChangeId": latest}})


def env_change(**fields):
    return (200, {"Code": "OK", "Change": fields})


def test_webplus_lost_answer_adopts_a_new_latest_change_that_is_a_restart():
    cloud = (
        FakeCloud()
        .on("RestartAppEnv", dropped())
        .on("DescribeAppEnvStatus", env_status("wc-1"), env_status("wc-9"))
        .on("DescribeChange", env_change(ActionName="RestartApp"))
    )
    result = restart_app_env(make_client(cloud), "we-1")
    assert result == RestartResult("wc-9", None)
    assert len(cloud.calls("RestartAppEnv")) == 1
    assert query_of(cloud.calls("DescribeChange")[0]) == {
        "EnvId": "we-1",
        "ChangeId": "wc-9",
        "RegionId": "cn-hangzhou",
    }


@pytest.mark.parametrize(
    ("latest", "change"),
    [
        ("wc-1", {"ActionName": "RestartApp"}),  # the snapshot's: not new
        ("wc-2", {"ActionName": "RestartApp"}),  # known to the caller
        ("wc-9", {"ActionName": "Apply"}),  # not a restart
        ("", {}),  # no change at all
    ],
)
def test_webplus_latest_change_that_is_not_a_new_restart_is_never_adopted(latest, change):
    cloud = (
        FakeCloud()
        .on("RestartAppEnv", HTTP_500, ENV_RESTART_OK)
        .on("DescribeAppEnvStatus", env_status("wc-1"), env_status(latest))
        .on("DescribeChange", env_change(**change))
    )
    result = restart_app_env(make_client(cloud), "we-1", known_change_ids=["wc-2"])
    assert result == RestartResult("wc-new", "r2")
    assert len(cloud.calls("RestartAppEnv")) == 2


def test_looks_that_keep_failing_end_in_restart_outcome_unknown_naming_the_target():
    cloud = (
        FakeCloud()
        .on("RestartApplication", READ_TIMEOUT)
        .on("ListRecentChangeOrder", SNAPSHOT, (500, {"Code": "InternalError", "Message": "x"}))
    )
    with pytest.raises(RestartOutcomeUnknown) as excinfo:
        restart_application(make_client(cloud), "app-1")
    assert excinfo.value.target == "EDAS application app-1"
    assert "the last look failed" in str(excinfo.value)
    assert len(cloud.calls("RestartApplication")) == 1


def test_a_look_refused_permission_ends_in_restart_outcome_unknown():
    cloud = (
        FakeCloud()
        .on("RestartAppEnv", READ_TIMEOUT)
        .on(
            "DescribeAppEnvStatus",
            env_status("wc-1"),
            (403, {"Code": "Forbidden.RAM", "Message": "no"}),
        )
    )
    with pytest.raises(RestartOutcomeUnknown, match="Web\\+ environment we-1"):
        restart_app_env(make_client(cloud), "we-1")
    assert len(cloud.calls("RestartAppEnv")) == 1


def test_restart_that_was_not_accepted_and_ran_out_of_attempts_raises_the_real_error():
    cloud = FakeCloud().on("RestartApplication", refused())
    with pytest.raises(TransportError) as excinfo:
        restart_application(make_client(cloud, max_attempts=2), "app-1")
    assert excinfo.value.sent is False
    assert len(cloud.calls("RestartApplication")) == 2


def test_server_times_are_never_read():
    # CreateTime in any zone, or none: ownership is decided by ids alone.
    for created in ("1999-01-01 00:00:00", "2999-12-31T23:59:59Z", None):
        ours = {**OUR_RESTART, "CreateTime": created}
        cloud = (
            FakeCloud()
            .on("RestartApplication", READ_TIMEOUT)
            .on("ListRecentChangeOrder", SNAPSHOT, edas_orders(OLD_RESTART, ours))
        )
        assert restart_application(make_client(cloud), "app-1").change_id == "co-ours"


# --- connections ------------------------------------------------------------------------------


def test_the_clients_own_session_pools_at_most_max_connections_per_host_and_blocks():
    with AliyunClient(Credentials(KEY_ID, SECRET), "cn-hangzhou", max_connections=3) as client:
        adapter = client._transport.session.get_adapter("https://edas.cn-hangzhou.aliyuncs.com")
        assert isinstance(adapter, DeadlineAdapter)
        assert adapter.poolmanager.connection_pool_kw["maxsize"] == 3
        assert adapter.poolmanager.connection_pool_kw["block"] is True
        assert client._transport.max_connections == 3
    default = AliyunClient(Credentials(KEY_ID, SECRET), "cn-hangzhou")
    assert default._transport.max_connections == 16
    with pytest.raises(ValueError, match="max_connections"):
        AliyunClient(Credentials(KEY_ID, SECRET), "cn-hangzhou", max_connections=0)


# --- secrets stay out of errors and logs ------------------------------------------------------


def test_no_secret_or_token_reaches_errors_or_logs(caplog):
    caplog.set_level(logging.DEBUG, logger="restart_trigger.aliyun")
    echo = f"server CanonicalRequest is [GET\n/\n\nx-acs-security-token:{TOKEN}\n] {SECRET}"
    cloud = (
        FakeCloud()
        .on("RestartApplication", requests.exceptions.ReadTimeout(f"timeout {SECRET}"))
        .on(
            "ListRecentChangeOrder",
            SNAPSHOT,
            (503, {"Code": "ServiceUnavailable", "Message": echo}),
            (400, {"Code": "SignatureDoesNotMatch", "Message": echo}),
        )
    )
    client = make_client(cloud, credentials=Credentials(KEY_ID, SECRET, TOKEN))
    with pytest.raises(RestartOutcomeUnknown) as excinfo:
        restart_application(client, "app-1")
    texts = [str(excinfo.value), repr(excinfo.value), str(excinfo.value.__cause__), caplog.text]
    for text in texts:
        assert SECRET not in text
        assert TOKEN not in text
    assert "SignatureDoesNotMatch" in caplog.text or "SignatureDoesNotMatch" in texts[0]
    assert SECRET not in repr(client)


# --- real sockets on 127.0.0.1 ------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list = []

    def log_message(self, *args):  # keep test output quiet
        pass

    def _reply(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802 - http.server naming
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        action = self.headers["x-acs-action"]
        restarted = any(seen == "RestartApplication" for seen, _ in self.seen)
        self.seen.append((action, self.headers["Host"]))
        if action == "RestartApplication":
            # Accept the restart, then drop the connection without answering.
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        orders = [{"ChangeOrderId": "co-before", "Source": "pop", "AppId": "app-1"}]
        if restarted:
            orders.append({"ChangeOrderId": "co-server", "Source": "pop", "AppId": "app-1"})
        self._reply({"Code": 200, "ChangeOrderList": {"ChangeOrder": orders}})


@pytest.fixture
def local_server():
    _Handler.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def real_client(edas_url: str, max_attempts: int = 3) -> AliyunClient:
    fake_time = FakeTime()
    backoff = Backoff(first=0.5, jitter=True, max_attempts=max_attempts, random=lambda: 0.0)
    client = AliyunClient(
        Credentials(KEY_ID, SECRET),
        "cn-hangzhou",
        endpoints={"edas": edas_url},
        deadline=Deadline(120, clock=fake_time.clock, sleep=fake_time.sleep),
        read_backoff=backoff,
        restart_backoff=backoff,
        timeout=(2.0, 5.0),
    )
    client._transport.session.trust_env = False  # no proxy from the env for loopback
    return client


def test_a_real_dropped_connection_after_sending_is_looked_up_not_resent(local_server):
    with real_client(local_server) as client:
        result = restart_application(client, "app-1")
    assert result == RestartResult("co-server", None)
    actions = [action for action, _ in _Handler.seen]
    assert actions == ["ListRecentChangeOrder", "RestartApplication", "ListRecentChangeOrder"]
    port = local_server.rsplit(":", 1)[1]
    assert {host for _, host in _Handler.seen} == {f"127.0.0.1:{port}"}


# --- the user agent -------------------------------------------------------------------------------


def test_the_client_user_agent_carries_the_package_version():
    seen = []

    class Capture(requests.adapters.BaseAdapter):
        def send(self, request, **kwargs):
            seen.append(request.headers["user-agent"])
            raise requests.exceptions.ConnectTimeout("not sending")

        def close(self):
            pass

    session = requests.Session()
    session.mount("https://", Capture())
    client = AliyunClient(
        Credentials("key-id", "secret-value"),
        "cn-hangzhou",
        session=session,
        read_backoff=Backoff(first=0.0, max_attempts=1),
        user_agent="extra/1",
    )
    try:
        describe_change(client, "we-1", "wc-1")
    except aliyun.TransportError:
        pass
    assert seen == [
        f"restart-trigger/{restart_trigger.__version__} python-requests/"
        f"{requests.__version__} extra/1"
    ]


# === SAE (2019-05-06) and EDAS Kubernetes =========================================================
# Their client has endpoints for EDAS and SAE (make_sae_client).


SAE = "http://127.0.0.1:18082"
APP = "0099b7be-5f5b-4512-a7fc-56049ef1a2b3"
SAE_VERSION, EDAS_VERSION = "2019-05-06", "2017-08-01"


def make_sae_client(
    cloud: FakeCloud, *, credentials=None, fake_time=None, max_attempts=4, **kwargs
):
    fake_time = fake_time or FakeTime()
    backoff = Backoff(first=0.5, cap=4.0, jitter=True, max_attempts=max_attempts, random=lambda: 1)
    session = fake_session(cloud)
    return AliyunClient(
        credentials or Credentials(KEY_ID, SECRET),
        region="cn-hangzhou",
        endpoints={"edas": EDAS, "sae": SAE},
        deadline=Deadline(600, clock=fake_time.clock, sleep=fake_time.sleep),
        session=session,
        read_backoff=backoff,
        restart_backoff=backoff,
        **kwargs,
    )


def verify_v3(request: requests.PreparedRequest) -> None:
    """Recompute the V3 signature with the official SDK's helper and compare."""
    from alibabacloud_openapi_util.client import Client as OpenApiUtil

    auth = request.headers["Authorization"]
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    parts = urlsplit(request.url)
    view = SimpleNamespace(
        method=request.method,
        pathname=parts.path,
        query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        headers={name: request.headers[name] for name in signed},
    )
    expected = OpenApiUtil.get_authorization(
        view, "ACS3-HMAC-SHA256", request.headers["x-acs-content-sha256"], KEY_ID, SECRET
    )
    assert auth == expected


def sae_ok(data: dict, **extra) -> tuple[int, dict]:
    return 200, {"Code": "200", "Success": True, "Message": "success", "Data": data, **extra}


SAE_RESTART_OK = sae_ok({"ChangeOrderId": "sae-new"}, RequestId="r-sae", TraceId="t")
K8S_RESTART_OK = (
    200,
    {"Code": 200, "Message": "success", "RequestId": "r-k8s", "ChangeOrderId": "co-k8s"},
)


def sae_orders(*orders) -> tuple[int, dict]:
    return sae_ok({"ChangeOrderList": list(orders), "CurrentPage": 1, "PageSize": 20})


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


# --- the tables ---------------------------------------------------------------------------


def test_sae_signs_v3_as_its_sdk_does_and_every_product_has_a_signer_and_an_endpoint():
    assert client_module.SIGNERS == {"edas": AcsV3Auth, "webplus": AcsRoaSha1Auth, "sae": AcsV3Auth}
    assert set(PRODUCTS) == set(client_module.SIGNERS)


def test_the_sae_endpoint_is_overridden_on_its_own():
    client = AliyunClient(Credentials(KEY_ID, SECRET), "cn-shenzhen", {"sae": SAE})
    assert repr(client) == (
        "AliyunClient(region='cn-shenzhen', endpoints={'edas': "
        "'https://edas.cn-shenzhen.aliyuncs.com', "
        "'webplus': 'https://webplus.cn-hangzhou.aliyuncs.com', "
        f"'sae': '{SAE}'}})"
    )


# --- SAE on the wire ------------------------------------------------------------------------


def test_sae_restart_puts_every_parameter_in_the_query_signed_v3():
    cloud = FakeCloud().on((SAE_VERSION, "RestartApplication"), SAE_RESTART_OK)
    client = make_sae_client(cloud, credentials=Credentials(KEY_ID, SECRET, TOKEN))
    result = restart_sae_application(
        client,
        APP,
        min_ready_instances=0,
        min_ready_instance_ratio=-1,
        auto_enable_application_scaling_rule=False,
    )

    assert result == RestartResult("sae-new", "r-sae")
    assert cloud.actions() == ["ListChangeOrders", "RestartApplication"]
    (request,) = cloud.calls("RestartApplication")
    assert (request.method, urlsplit(request.url).path) == (
        "PUT",
        "/pop/v1/sam/app/restartApplication",
    )
    assert request.url.startswith(SAE)
    assert query_of(request) == {
        "AppId": APP,
        "MinReadyInstances": "0",
        "MinReadyInstanceRatio": "-1",
        "AutoEnableApplicationScalingRule": "False",
    }
    assert request.body is None
    assert request.headers["x-acs-version"] == "2019-05-06"
    assert request.headers["x-acs-region-id"] == "cn-hangzhou"
    assert request.headers["x-acs-security-token"] == TOKEN
    assert request.headers["Authorization"].startswith("ACS3-HMAC-SHA256 ")


def test_sae_parameters_left_out_are_not_sent_and_true_is_written_as_python_does():
    cloud = FakeCloud().on((SAE_VERSION, "RestartApplication"), SAE_RESTART_OK)
    client = make_sae_client(cloud)
    restart_sae_application(client, APP)
    restart_sae_application(client, APP, auto_enable_application_scaling_rule=True)
    first, second = cloud.calls("RestartApplication")
    assert query_of(first) == {"AppId": APP}
    assert query_of(second) == {"AppId": APP, "AutoEnableApplicationScalingRule": "True"}
    for request in cloud.requests:
        verify_v3(request)


def test_sae_reads_use_the_documented_paths_and_return_their_sections():
    cloud = (
        FakeCloud()
        .on((SAE_VERSION, "DescribeChangeOrder"), sae_ok({"Status": 1, "SubStatus": 1}))
        .on((SAE_VERSION, "ListChangeOrders"), sae_orders(OLD))
    )
    client = make_sae_client(cloud)
    assert describe_change_order(client, "sae-1") == {"Status": 1, "SubStatus": 1}
    assert list_change_orders(client, APP) == [OLD]
    seen = [(r.method, urlsplit(r.url).path, query_of(r)) for r in cloud.requests]
    assert seen == [
        ("GET", "/pop/v1/sam/changeorder/DescribeChangeOrder", {"ChangeOrderId": "sae-1"}),
        (
            "GET",
            "/pop/v1/sam/changeorder/ListChangeOrders",
            {"AppId": APP, "CoType": "CoRestartApplication", "CurrentPage": "1", "PageSize": "20"},
        ),
    ]
    for request in cloud.requests:
        verify_v3(request)


def test_an_sae_list_without_orders_is_empty_and_a_status_without_data_is_invalid():
    cloud = (
        FakeCloud()
        .on((SAE_VERSION, "ListChangeOrders"), sae_ok({"TotalSize": 0}))
        .on((SAE_VERSION, "DescribeChangeOrder"), (200, {"Code": "200", "Success": True}))
    )
    client = make_sae_client(cloud, max_attempts=1)
    assert list_change_orders(client, APP) == []
    with pytest.raises(InvalidResponseError, match="no Data"):
        describe_change_order(client, "sae-1")


@pytest.mark.parametrize(
    "call",
    [
        lambda c: restart_sae_application(c, ""),
        lambda c: restart_sae_application(c, APP, min_ready_instances=-2),
        lambda c: restart_sae_application(c, APP, min_ready_instances=True),
        lambda c: restart_sae_application(c, APP, min_ready_instance_ratio=101),
        lambda c: restart_sae_application(c, APP, auto_enable_application_scaling_rule="true"),
        lambda c: describe_change_order(c, " "),
        lambda c: list_change_orders(c, ""),
        lambda c: restart_k8s_application(c, ""),
        lambda c: restart_k8s_application(c, "app-1", timeout=0),
        lambda c: restart_k8s_application(c, "app-1", timeout=1801),
        lambda c: restart_k8s_application(c, "app-1", timeout=1.5),
    ],
)
def test_sae_and_k8s_invalid_arguments_are_refused_before_anything_is_sent(call):
    cloud = FakeCloud()
    with pytest.raises(ValueError):
        call(make_sae_client(cloud))
    assert cloud.requests == []


# --- SAE answers ----------------------------------------------------------------------------


def test_sae_refusals_are_typed_by_their_code_or_error_code_and_not_retried():
    cases = [
        # what the gateway answers: HTTP 400, the code in Code
        (
            (400, {"Code": "Application.ChangerOrderRunning", "Message": "in progress"}),
            BusinessError,
        ),
        # SAE's own shape: Code repeats the status, ErrorCode names the reason
        (
            (400, {"Code": "400", "ErrorCode": "Application.InvalidStatus", "Success": False}),
            BusinessError,
        ),
        ((400, {"Code": "InvalidApplication.NotFound", "Message": "no app"}), NotFoundError),
        ((404, {"Code": "404", "ErrorCode": "InvalidApplication.NotFound"}), NotFoundError),
        # a 200 whose Success is false is a refusal, even with Code 200
        (
            (
                200,
                {"Code": "200", "Success": False, "ErrorCode": "Application.ChangerOrderRunning"},
            ),
            BusinessError,
        ),
        ((200, {"Success": False, "Message": "no code at all"}), BusinessError),
        ((403, {"Code": "Forbidden.RAM", "Message": "no"}), AuthError),
    ]
    for answer, cls in cases:
        cloud = FakeCloud().on((SAE_VERSION, "RestartApplication"), answer)
        with pytest.raises(cls) as raised:
            restart_sae_application(make_sae_client(cloud), APP)
        assert type(raised.value) is cls, answer
        assert len(cloud.calls("RestartApplication")) == 1
    assert raised.value.code == "Forbidden.RAM"


def test_sae_throttling_in_a_200_body_is_retried():
    fake_time = FakeTime()
    cloud = FakeCloud().on(
        (SAE_VERSION, "DescribeChangeOrder"),
        (200, {"Code": "200", "Success": False, "ErrorCode": "Throttling.User"}),
        sae_ok({"Status": 2}),
    )
    assert describe_change_order(make_sae_client(cloud, fake_time=fake_time), "sae-1") == {
        "Status": 2
    }
    assert fake_time.sleeps == [0.5]
    with pytest.raises(ThrottlingError):
        describe_change_order(
            make_sae_client(
                FakeCloud().on((SAE_VERSION, "DescribeChangeOrder"), (429, {"Code": "Throttling"})),
                max_attempts=1,
            ),
            "sae-1",
        )


# --- SAE lost answers -----------------------------------------------------------------------


def test_every_sae_restart_send_is_preceded_by_a_snapshot_of_its_restarts():
    cloud = FakeCloud().on(
        (SAE_VERSION, "RestartApplication"), (400, {"Code": "Throttling.User"}), SAE_RESTART_OK
    )
    assert restart_sae_application(make_sae_client(cloud), APP).change_id == "sae-new"
    assert cloud.actions() == ["ListChangeOrders", "RestartApplication"] * 2


def test_sae_read_timeout_adopts_the_one_new_restart_instead_of_resending():
    cloud = (
        FakeCloud()
        .on((SAE_VERSION, "RestartApplication"), READ_TIMEOUT, SAE_RESTART_OK)
        .on((SAE_VERSION, "ListChangeOrders"), sae_orders(OLD), sae_orders(OURS, OLD))
    )
    result = restart_sae_application(make_sae_client(cloud), APP)
    assert result == RestartResult("sae-ours", None)
    assert len(cloud.calls("RestartApplication")) == 1


def test_sae_restart_applied_after_the_read_timeout_is_found_and_sent_only_once():
    fake_time = FakeTime()

    def applied_later(request):
        fake_time.now += 30.0
        return READ_TIMEOUT

    cloud = (
        FakeCloud()
        .on((SAE_VERSION, "RestartApplication"), applied_later, SAE_RESTART_OK)
        .on(
            (SAE_VERSION, "ListChangeOrders"),
            sae_orders(OLD),
            sae_orders(OLD),
            sae_orders(OLD),
            sae_orders(OURS, OLD),
        )
    )
    result = restart_sae_application(make_sae_client(cloud, fake_time=fake_time), APP)
    assert result == RestartResult("sae-ours", None)
    assert len(cloud.calls("RestartApplication")) == 1


def test_sae_orders_that_are_not_our_restart_are_never_adopted_and_it_is_resent_after_the_window():
    fake_time = FakeTime()
    cloud = (
        FakeCloud()
        .on((SAE_VERSION, "RestartApplication"), READ_TIMEOUT, SAE_RESTART_OK)
        .on(
            (SAE_VERSION, "ListChangeOrders"),
            sae_orders(OLD),
            sae_orders(CONSOLE, DEPLOY, OTHER_APP, OLD),
        )
    )
    result = restart_sae_application(
        make_sae_client(cloud, fake_time=fake_time), APP, known_change_ids="sae-known"
    )
    assert result == RestartResult("sae-new", "r-sae")
    assert len(cloud.calls("RestartApplication")) == 2
    assert fake_time.now >= DEFAULT_SETTLE_WINDOW


def test_two_new_sae_restarts_cannot_be_told_apart_so_none_is_adopted_nor_resent():
    theirs = {**OURS, "ChangeOrderId": "sae-theirs"}
    cloud = (
        FakeCloud()
        .on((SAE_VERSION, "RestartApplication"), HTTP_500, SAE_RESTART_OK)
        .on((SAE_VERSION, "ListChangeOrders"), sae_orders(OLD), sae_orders(theirs, OURS, OLD))
    )
    with pytest.raises(RestartOutcomeUnknown) as raised:
        restart_sae_application(make_sae_client(cloud), APP)
    assert raised.value.target == f"SAE application {APP}"
    assert set(raised.value.candidates) == {"sae-ours", "sae-theirs"}
    assert "SAE console, or ListChangeOrders" in str(raised.value)
    assert len(cloud.calls("RestartApplication")) == 1


def test_an_sae_snapshot_that_cannot_be_taken_sends_no_restart():
    cloud = FakeCloud().on((SAE_VERSION, "ListChangeOrders"), (403, {"Code": "Forbidden.RAM"}))
    with pytest.raises(AuthError):
        restart_sae_application(make_sae_client(cloud), APP)
    assert cloud.calls("RestartApplication") == []


# --- EDAS Kubernetes ------------------------------------------------------------------------


def test_k8s_restart_posts_its_query_to_edas_signed_v3():
    cloud = FakeCloud().on((EDAS_VERSION, "RestartK8sApplication"), K8S_RESTART_OK)
    result = restart_k8s_application(make_sae_client(cloud), "app-k8s", timeout=1800)
    assert result == RestartResult("co-k8s", "r-k8s")
    assert cloud.actions() == ["ListRecentChangeOrder", "RestartK8sApplication"]
    snapshot, request = cloud.requests
    assert query_of(snapshot) == {"AppId": "app-k8s"}
    assert (request.method, urlsplit(request.url).path) == (
        "POST",
        "/pop/v5/k8s/acs/restart_k8s_app",
    )
    assert request.url.startswith(EDAS)
    assert query_of(request) == {"AppId": "app-k8s", "Timeout": "1800"}
    assert request.headers["x-acs-version"] == "2017-08-01"
    assert request.headers["x-acs-region-id"] == "cn-hangzhou"
    verify_v3(request)
    restart_k8s_application(make_sae_client(cloud), "app-k8s")
    assert query_of(cloud.calls("RestartK8sApplication")[-1]) == {"AppId": "app-k8s"}


def test_k8s_body_code_other_than_200_is_a_business_error():
    cloud = FakeCloud().on(
        (EDAS_VERSION, "RestartK8sApplication"), (200, {"Code": 603, "Message": "busy"})
    )
    with pytest.raises(BusinessError) as raised:
        restart_k8s_application(make_sae_client(cloud), "app-k8s")
    assert (raised.value.code, raised.value.operation) == ("603", "RestartK8sApplication")


def test_k8s_lost_answer_adopts_the_one_new_edas_change_order():
    old = {"ChangeOrderId": "co-old", "AppId": "app-k8s", "Source": "pop"}
    ours = {**old, "ChangeOrderId": "co-ours", "CoTypeCode": "CoRestartK8sApplication"}

    def orders(*items):
        return 200, {"Code": 200, "ChangeOrderList": {"ChangeOrder": list(items)}}

    cloud = (
        FakeCloud()
        .on((EDAS_VERSION, "RestartK8sApplication"), READ_TIMEOUT, K8S_RESTART_OK)
        .on((EDAS_VERSION, "ListRecentChangeOrder"), orders(old), orders(old, ours))
    )
    result = restart_k8s_application(make_sae_client(cloud), "app-k8s", known_change_ids=["co-old"])
    assert result == RestartResult("co-ours", None)
    assert len(cloud.calls("RestartK8sApplication")) == 1
