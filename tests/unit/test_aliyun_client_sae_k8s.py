"""AliyunClient's SAE (2019-05-06) and EDAS Kubernetes operations: each request on the wire,
the signer and endpoint of each product, SAE's answers (``Code``, ``Success``, ``ErrorCode``),
and a restart whose answer was lost looked up (never blindly resent), as for EDAS and Web+.

HTTP is faked with a requests transport adapter (no network); clocks and sleeps are injected.
"""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from restart_trigger.aliyun import (
    AliyunClient,
    AuthError,
    BusinessError,
    Credentials,
    InvalidResponseError,
    NotFoundError,
    RestartOutcomeUnknown,
    RestartResult,
    ThrottlingError,
)
from restart_trigger.aliyun import client as client_module
from restart_trigger.aliyun.auth import AcsRoaSha1Auth, AcsV3Auth
from restart_trigger.aliyun.endpoints import PRODUCTS, default_endpoint
from restart_trigger.aliyun.errors import error_code_of
from restart_trigger.aliyun.recovery import DEFAULT_SETTLE_WINDOW
from restart_trigger.backoff import Backoff, Deadline
from restart_trigger.targets.k8s import restart_k8s_application
from restart_trigger.targets.sae import (
    describe_change_order,
    list_change_orders,
    restart_sae_application,
    sae_candidates,
)
from tests.unit.fakes import FakeCloud, FakeTime, fake_session, query_of

KEY_ID = "test-access-key-id"
SECRET = "test-secret-value-0123456789"
TOKEN = "test-sts-token-abcdefghijklmnop"
EDAS = "http://127.0.0.1:18080"
SAE = "http://127.0.0.1:18082"
APP = "0099b7be-5f5b-4512-a7fc-56049ef1a2b3"
SAE_VERSION, EDAS_VERSION = "2019-05-06", "2017-08-01"


def make_client(cloud: FakeCloud, *, credentials=None, fake_time=None, max_attempts=4, **kwargs):
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
READ_TIMEOUT = requests.exceptions.ReadTimeout("read timed out")
HTTP_500 = (500, {"Code": "InternalError", "Message": "try again"})


# --- the tables ---------------------------------------------------------------------------


def test_sae_signs_v3_as_its_sdk_does_and_every_product_has_a_signer_and_an_endpoint():
    assert client_module.SIGNERS == {"edas": AcsV3Auth, "webplus": AcsRoaSha1Auth, "sae": AcsV3Auth}
    assert set(PRODUCTS) == set(client_module.SIGNERS)


def test_sae_endpoints_are_the_ones_its_sdk_resolves():
    from alibabacloud_sae20190506.client import Client as SaeClient
    from alibabacloud_tea_openapi import models

    regions = ["cn-hangzhou", "cn-shanghai", "ap-southeast-1", "eu-central-1", "cn-wuhan-lr"]
    for region in regions:
        config = models.Config(access_key_id="k", access_key_secret="s", region_id=region)
        sdk_host = SaeClient(config)._endpoint
        assert default_endpoint("sae", region) == f"https://{sdk_host}"
    assert default_endpoint("sae", "cn-beijing") == "https://sae.cn-beijing.aliyuncs.com"


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
    client = make_client(cloud, credentials=Credentials(KEY_ID, SECRET, TOKEN))
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
    client = make_client(cloud)
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
    client = make_client(cloud)
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
    client = make_client(cloud, max_attempts=1)
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
def test_invalid_arguments_are_refused_before_anything_is_sent(call):
    cloud = FakeCloud()
    with pytest.raises(ValueError):
        call(make_client(cloud))
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
            restart_sae_application(make_client(cloud), APP)
        assert type(raised.value) is cls, answer
        assert len(cloud.calls("RestartApplication")) == 1
    assert raised.value.code == "Forbidden.RAM"


def test_the_busy_code_is_the_errors_code_whatever_shape_sae_answers_in():
    for body in (
        {"Code": "Application.ChangerOrderRunning"},
        {"Code": "400", "ErrorCode": "Application.ChangerOrderRunning", "Success": False},
        {"Code": 200, "ErrorCode": "Application.ChangerOrderRunning", "Success": False},
    ):
        assert error_code_of(body) == "Application.ChangerOrderRunning"
    assert error_code_of({"Code": "200", "ErrorCode": "success", "Success": True}) == "200"
    assert error_code_of({"Code": "Throttling.User", "ErrorCode": "x"}) == "Throttling.User"
    assert error_code_of({}) is None


def test_sae_throttling_in_a_200_body_is_retried():
    fake_time = FakeTime()
    cloud = FakeCloud().on(
        (SAE_VERSION, "DescribeChangeOrder"),
        (200, {"Code": "200", "Success": False, "ErrorCode": "Throttling.User"}),
        sae_ok({"Status": 2}),
    )
    assert describe_change_order(make_client(cloud, fake_time=fake_time), "sae-1") == {"Status": 2}
    assert fake_time.sleeps == [0.5]
    with pytest.raises(ThrottlingError):
        describe_change_order(
            make_client(
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
    assert restart_sae_application(make_client(cloud), APP).change_id == "sae-new"
    assert cloud.actions() == ["ListChangeOrders", "RestartApplication"] * 2


def test_sae_read_timeout_adopts_the_one_new_restart_instead_of_resending():
    cloud = (
        FakeCloud()
        .on((SAE_VERSION, "RestartApplication"), READ_TIMEOUT, SAE_RESTART_OK)
        .on((SAE_VERSION, "ListChangeOrders"), sae_orders(OLD), sae_orders(OURS, OLD))
    )
    result = restart_sae_application(make_client(cloud), APP)
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
    result = restart_sae_application(make_client(cloud, fake_time=fake_time), APP)
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
        make_client(cloud, fake_time=fake_time), APP, known_change_ids="sae-known"
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
        restart_sae_application(make_client(cloud), APP)
    assert raised.value.target == f"SAE application {APP}"
    assert set(raised.value.candidates) == {"sae-ours", "sae-theirs"}
    assert "SAE console, or ListChangeOrders" in str(raised.value)
    assert len(cloud.calls("RestartApplication")) == 1


def test_sae_candidates_follow_the_rules():
    before = frozenset({"sae-old"})
    orders = [OURS, OLD, CONSOLE, DEPLOY, OTHER_APP, {"ChangeOrderId": "bare"}, {"Status": 1}]
    assert sae_candidates(orders, APP, before, frozenset()) == ["sae-ours", "bare"]
    assert sae_candidates(orders, APP, before, frozenset({"sae-ours"})) == ["bare"]


def test_an_sae_snapshot_that_cannot_be_taken_sends_no_restart():
    cloud = FakeCloud().on((SAE_VERSION, "ListChangeOrders"), (403, {"Code": "Forbidden.RAM"}))
    with pytest.raises(AuthError):
        restart_sae_application(make_client(cloud), APP)
    assert cloud.calls("RestartApplication") == []


# --- EDAS Kubernetes ------------------------------------------------------------------------


def test_k8s_restart_posts_its_query_to_edas_signed_v3():
    cloud = FakeCloud().on((EDAS_VERSION, "RestartK8sApplication"), K8S_RESTART_OK)
    result = restart_k8s_application(make_client(cloud), "app-k8s", timeout=1800)
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
    restart_k8s_application(make_client(cloud), "app-k8s")
    assert query_of(cloud.calls("RestartK8sApplication")[-1]) == {"AppId": "app-k8s"}


def test_k8s_body_code_other_than_200_is_a_business_error():
    cloud = FakeCloud().on(
        (EDAS_VERSION, "RestartK8sApplication"), (200, {"Code": 603, "Message": "busy"})
    )
    with pytest.raises(BusinessError) as raised:
        restart_k8s_application(make_client(cloud), "app-k8s")
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
    result = restart_k8s_application(make_client(cloud), "app-k8s", known_change_ids=["co-old"])
    assert result == RestartResult("co-ours", None)
    assert len(cloud.calls("RestartK8sApplication")) == 1
