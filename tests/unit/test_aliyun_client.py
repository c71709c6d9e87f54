"""AliyunClient: each operation on the wire, argument checks, retries under one deadline, and
how a restart whose answer was lost is checked instead of blindly resent.

HTTP is faked with a requests transport adapter (no network), except for a few tests that use a
tiny stdlib HTTP server on 127.0.0.1 to exercise real socket failures. Clocks and sleeps are
injected: nothing here waits for real time.
"""

from __future__ import annotations

import http.client
import http.server
import json
import logging
import socket
import threading
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict

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
from restart_trigger.aliyun.recovery import SHANGHAI
from restart_trigger.backoff import Backoff, Deadline

KEY_ID = "test-access-key-id"
SECRET = "test-secret-value-0123456789"
TOKEN = "test-sts-token-abcdefghijklmnop"
SEND_TIME = 1704164645.0  # 2024-01-02T03:04:05Z == 2024-01-02 11:04:05 in Asia/Shanghai
EDAS = "http://127.0.0.1:18080"
WEBPLUS = "http://127.0.0.1:18081"


# --- fakes ------------------------------------------------------------------------------------


class FakeCloud(requests.adapters.BaseAdapter):
    """Answers by ``x-acs-action``; each action has a queue of answers, the last one repeats.

    An answer is ``(status, body[, headers])``, an exception to raise, or a callable taking the
    request and returning one of those.
    """

    def __init__(self) -> None:
        super().__init__()
        self.answers: dict[str, list] = {}
        self.requests: list[requests.PreparedRequest] = []

    def on(self, action: str, *answers) -> FakeCloud:
        self.answers.setdefault(action, []).extend(answers)
        return self

    def calls(self, action: str) -> list[requests.PreparedRequest]:
        return [r for r in self.requests if r.headers["x-acs-action"] == action]

    def send(self, request, **kwargs):
        self.requests.append(request)
        queue = self.answers[request.headers["x-acs-action"]]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if callable(answer) and not isinstance(answer, BaseException):
            answer = answer(request)
        if isinstance(answer, BaseException):
            raise answer
        status, body, *rest = answer
        response = requests.Response()
        response.status_code = status
        response.reason = http.client.responses.get(status, "")
        response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response.headers = CaseInsensitiveDict(
            {"content-type": "application/json", **(rest or [{}])[0]}
        )
        response.request = request
        response.url = request.url
        return response

    def close(self) -> None:
        pass


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def fake_session(cloud: FakeCloud) -> requests.Session:
    session = requests.Session()
    session.mount("http://", cloud)
    session.mount("https://", cloud)
    return session


def make_client(
    cloud: FakeCloud, *, credentials=None, max_attempts=4, deadline=60.0, fake_time=None, **kwargs
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
        wall_clock=lambda: SEND_TIME,
        **options,
    )


def query_of(request) -> dict:
    return dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))


def refused() -> requests.exceptions.ConnectionError:
    reason = urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection")
    return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", reason))


def dropped() -> requests.exceptions.ConnectionError:
    reason = urllib3.exceptions.ProtocolError(
        "Connection aborted.", http.client.RemoteDisconnected("closed without response")
    )
    return requests.exceptions.ConnectionError(reason)


def verify_signature(request: requests.PreparedRequest, secret: str = SECRET) -> None:
    """Recompute the V3 signature with the official SDK helper and compare."""
    from types import SimpleNamespace

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
    key_id = auth.split("Credential=")[1].split(",")[0]
    expected = OpenApiUtil.get_authorization(
        view, "ACS3-HMAC-SHA256", request.headers["x-acs-content-sha256"], key_id, secret
    )
    assert auth == expected


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
    result = make_client(cloud).restart_application("app-1", ["ecc-1", "ecc-2"])

    assert result == RestartResult("co-new", "r1")
    (request,) = cloud.requests
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


def test_restart_app_env_sends_a_form_body_with_lowercase_booleans():
    cloud = FakeCloud().on("RestartAppEnv", ENV_RESTART_OK)
    client = make_client(cloud, credentials=Credentials(KEY_ID, SECRET, TOKEN))
    result = client.restart_app_env(
        "we-1", batch_size=2, batch_interval=0, pause_between_batches=False
    )

    assert result == RestartResult("wc-new", "r2")
    (request,) = cloud.requests
    assert (request.method, urlsplit(request.url).path) == ("POST", "/pop/v1/wam/appEnv/restart")
    assert urlsplit(request.url).query == ""
    assert request.body == b"BatchInterval=0&BatchSize=2&EnvId=we-1&PauseBetweenBatches=false"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["x-acs-version"] == "2019-03-20"
    assert request.headers["x-acs-security-token"] == TOKEN
    verify_signature(request)


def test_parameters_left_empty_are_never_sent():
    cloud = FakeCloud().on("RestartApplication", RESTART_OK).on("RestartAppEnv", ENV_RESTART_OK)
    client = make_client(cloud)
    client.restart_application("app-1", ecc_ids=[])
    client.restart_app_env("we-1")
    edas, webplus = cloud.requests
    assert query_of(edas) == {"AppId": "app-1"}
    assert webplus.body == b"EnvId=we-1"


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.restart_application(""),
        lambda c: c.restart_application("app-1", ["ok", " "]),
        lambda c: c.restart_app_env("we-1", batch_percent=0),
        lambda c: c.restart_app_env("we-1", batch_size=True),
        lambda c: c.restart_app_env("we-1", pause_between_batches="yes"),
        lambda c: c.describe_change("we-1", ""),
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
    assert client.get_change_order_info("co-1") == {"Status": 2}
    assert client.list_recent_change_orders("app-1") == [{"ChangeOrderId": "a"}]
    assert client.describe_change("we-1", "wc-1") == {"ChangeFinished": True}

    seen = [(r.method, urlsplit(r.url).path, query_of(r)) for r in cloud.requests]
    assert seen == [
        ("POST", "/pop/v5/changeorder/change_order_info", {"ChangeOrderId": "co-1"}),
        ("POST", "/pop/v5/changeorder/change_order_list", {"AppId": "app-1"}),
        ("GET", "/pop/v1/wam/changeInfo", {"EnvId": "we-1", "ChangeId": "wc-1"}),
    ]
    for request in cloud.requests:
        verify_signature(request)


def test_an_empty_change_order_list_is_an_empty_list():
    cloud = FakeCloud().on("ListRecentChangeOrder", (200, {"Code": 200, "ChangeOrderList": {}}))
    assert make_client(cloud).list_recent_change_orders("app-1") == []


def test_a_read_without_its_section_is_an_invalid_response():
    cloud = FakeCloud().on("DescribeChange", (200, {"Code": "OK", "RequestId": "r"}))
    with pytest.raises(InvalidResponseError, match="no Change"):
        make_client(cloud, max_attempts=1).describe_change("we-1", "wc-1")


# --- final errors are not retried -------------------------------------------------------------


def test_edas_http_200_with_body_code_other_than_200_is_a_business_error_and_not_retried():
    cloud = FakeCloud().on(
        "RestartApplication", (200, {"Code": 500, "Message": "app busy", "RequestId": "r"})
    )
    with pytest.raises(BusinessError) as excinfo:
        make_client(cloud).restart_application("app-1")
    assert (excinfo.value.http_status, excinfo.value.code) == (200, "500")
    assert len(cloud.requests) == 1


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
        client.restart_app_env("we-1")
    with pytest.raises(NotFoundError):
        client.describe_change("we-1", "wc-x")
    assert len(cloud.requests) == 2


def test_signature_errors_are_auth_errors_and_not_retried():
    cloud = FakeCloud().on(
        "DescribeChange", (400, {"Code": "SignatureDoesNotMatch", "Message": "bad"})
    )
    with pytest.raises(AuthError):
        make_client(cloud).describe_change("we-1", "wc-1")
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
    assert client.describe_change("we-1", "wc-1") == {"ChangeId": "wc-1"}
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
    assert make_client(cloud, fake_time=fake_time).list_recent_change_orders("app-1") == []
    assert fake_time.sleeps == [0.5]


def test_server_errors_on_reads_are_retried_until_max_attempts_then_raised():
    fake_time = FakeTime()
    cloud = FakeCloud().on("GetChangeOrderInfo", (500, {"Code": "InternalError", "Message": "x"}))
    with pytest.raises(ServerError):
        make_client(cloud, max_attempts=3, fake_time=fake_time).get_change_order_info("co-1")
    assert len(cloud.requests) == 3
    assert fake_time.sleeps == [0.5, 1.0]


def test_retries_stop_at_the_deadline():
    fake_time = FakeTime()
    cloud = FakeCloud().on("GetChangeOrderInfo", (503, {"Code": "ServiceUnavailable"}))
    client = make_client(cloud, max_attempts=50, deadline=5.0, fake_time=fake_time)
    with pytest.raises(ServerError):
        client.get_change_order_info("co-1")
    assert sum(fake_time.sleeps) <= 5.0
    assert len(cloud.requests) < 50


def test_a_read_is_retried_after_any_transport_failure():
    cloud = FakeCloud().on(
        "DescribeChange",
        requests.exceptions.ReadTimeout("read timed out"),
        (200, {"Code": "OK", "Change": {"ChangeId": "wc-1"}}),
    )
    assert make_client(cloud).describe_change("we-1", "wc-1") == {"ChangeId": "wc-1"}


# --- the default patience -------------------------------------------------------------------


def client_with_default_backoff(cloud: FakeCloud, fake_time: FakeTime) -> AliyunClient:
    return AliyunClient(
        Credentials(KEY_ID, SECRET),
        region="cn-hangzhou",
        endpoints={"edas": EDAS, "webplus": WEBPLUS},
        deadline=Deadline(10_000, clock=fake_time.clock, sleep=fake_time.sleep),
        session=fake_session(cloud),
        wall_clock=lambda: SEND_TIME,
    )


def test_a_read_is_tried_5_times_by_default_with_jittered_waits_of_at_most_20s():
    fake_time = FakeTime()
    cloud = FakeCloud().on("GetChangeOrderInfo", (500, {"Code": "InternalError"}))
    with pytest.raises(ServerError):
        client_with_default_backoff(cloud, fake_time).get_change_order_info("co-1")
    assert len(cloud.requests) == 5
    assert len(fake_time.sleeps) == 4
    assert all(0 <= s < c for s, c in zip(fake_time.sleeps, [0.5, 1, 2, 4], strict=True))


def test_a_restart_is_tried_10_times_by_default_with_waits_of_at_most_10s():
    fake_time = FakeTime()
    cloud = FakeCloud().on("RestartApplication", (400, {"Code": "Throttling.User"}))
    with pytest.raises(ThrottlingError):
        client_with_default_backoff(cloud, fake_time).restart_application("app-1")
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
        client.get_change_order_info("co-1")
    sent = len(cloud.requests)
    fake_time.now = 5.0  # the same deadline, now passed: the next call sends nothing
    with pytest.raises(DeadlineExceeded):
        client.get_change_order_info("co-1")
    with pytest.raises(DeadlineExceeded):
        client.restart_application("app-1")
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
    client.get_change_order_info("co-1")
    fake_time.now = 500.0  # long after the first call's deadline
    client.get_change_order_info("co-1")
    client.restart_application("app-1")
    assert [d.seconds for d in made] == [120.0, 120.0, 120.0]
    assert len(cloud.requests) == 3


def test_a_lost_restart_answer_is_not_checked_past_the_deadline():
    fake_time = FakeTime()

    def timed_out(request):
        fake_time.now = 60.0  # the read timeout used up what was left
        return requests.exceptions.ReadTimeout("read timed out")

    cloud = (
        FakeCloud()
        .on("RestartApplication", timed_out)
        .on("ListRecentChangeOrder", edas_orders(OUR_RESTART))
    )
    with pytest.raises(RestartOutcomeUnknown, match="DeadlineExceeded"):
        make_client(cloud, deadline=60.0, fake_time=fake_time).restart_application("app-1")
    assert cloud.calls("ListRecentChangeOrder") == []
    assert len(cloud.calls("RestartApplication")) == 1


# --- restarts whose outcome is unknown --------------------------------------------------------


def edas_orders(*orders):
    return (200, {"Code": 200, "ChangeOrderList": {"ChangeOrder": list(orders)}})


OLD_RESTART = {
    "ChangeOrderId": "co-old",
    "Source": "pop",
    "CoTypeCode": "CoRestartApplication",
    "CreateTime": "2024-01-02 10:00:00",
    "AppId": "app-1",
}
CONSOLE_RESTART = {
    **OLD_RESTART,
    "ChangeOrderId": "co-console",
    "Source": "console",
    "CreateTime": "2024-01-02 11:04:06",
}
OTHER_TYPE = {
    **OLD_RESTART,
    "ChangeOrderId": "co-deploy",
    "CoTypeCode": "CoDeploy",
    "CoType": "Deploy Application",
    "CreateTime": "2024-01-02 11:04:06",
}
OUR_RESTART = {**OLD_RESTART, "ChangeOrderId": "co-ours", "CreateTime": "2024-01-02 11:04:07"}


def test_refused_connection_means_not_sent_so_a_restart_is_simply_retried():
    cloud = FakeCloud().on("RestartApplication", refused(), RESTART_OK)
    result = make_client(cloud).restart_application("app-1")
    assert result == RestartResult("co-new", "r1")
    assert cloud.calls("ListRecentChangeOrder") == []
    assert len(cloud.calls("RestartApplication")) == 2


def test_connect_timeout_means_not_sent_so_a_restart_is_simply_retried():
    cloud = FakeCloud().on(
        "RestartAppEnv", requests.exceptions.ConnectTimeout("connect timed out"), ENV_RESTART_OK
    )
    assert make_client(cloud).restart_app_env("we-1").change_id == "wc-new"
    assert cloud.calls("DescribeAppEnvStatus") == []


def test_throttled_restart_is_resent_without_checking():
    cloud = FakeCloud().on(
        "RestartApplication", (400, {"Code": "Throttling", "Message": "m"}), RESTART_OK
    )
    assert make_client(cloud).restart_application("app-1").change_id == "co-new"
    assert cloud.calls("ListRecentChangeOrder") == []


def test_edas_read_timeout_finds_our_change_order_instead_of_resending():
    cloud = (
        FakeCloud()
        .on("RestartApplication", requests.exceptions.ReadTimeout("read timed out"))
        .on(
            "ListRecentChangeOrder",
            edas_orders(OLD_RESTART, CONSOLE_RESTART, OTHER_TYPE, OUR_RESTART),
        )
    )
    result = make_client(cloud).restart_application("app-1")
    assert result == RestartResult("co-ours", None)
    assert len(cloud.calls("RestartApplication")) == 1
    assert query_of(cloud.calls("ListRecentChangeOrder")[0]) == {"AppId": "app-1"}


def test_edas_lost_answer_with_no_new_change_order_is_resent():
    cloud = (
        FakeCloud()
        .on("RestartApplication", dropped(), RESTART_OK)
        .on("ListRecentChangeOrder", edas_orders(OLD_RESTART, CONSOLE_RESTART, OTHER_TYPE))
    )
    assert make_client(cloud).restart_application("app-1") == RestartResult("co-new", "r1")
    assert len(cloud.calls("RestartApplication")) == 2
    assert len(cloud.calls("ListRecentChangeOrder")) == 1


def test_change_orders_the_caller_already_knows_are_never_taken_for_ours():
    cloud = (
        FakeCloud()
        .on("RestartApplication", dropped(), RESTART_OK)
        .on("ListRecentChangeOrder", edas_orders(OUR_RESTART))
    )
    result = make_client(cloud).restart_application("app-1", known_change_ids={"co-ours"})
    assert result.change_id == "co-new"


def test_create_time_within_the_clock_skew_tolerance_counts_as_ours():
    slightly_early = {**OUR_RESTART, "CreateTime": "2024-01-02T03:03:50Z"}
    cloud = (
        FakeCloud()
        .on("RestartApplication", requests.exceptions.ReadTimeout("t"))
        .on("ListRecentChangeOrder", edas_orders(slightly_early))
    )
    assert make_client(cloud).restart_application("app-1").change_id == "co-ours"


def test_a_500_on_restart_is_checked_before_resending_but_a_503_is_not():
    cloud = (
        FakeCloud()
        .on("RestartApplication", (500, {"Code": "InternalError"}))
        .on("ListRecentChangeOrder", edas_orders(OUR_RESTART))
    )
    assert make_client(cloud).restart_application("app-1") == RestartResult("co-ours", None)

    cloud = FakeCloud().on("RestartApplication", (503, {"Code": "ServiceUnavailable"}), RESTART_OK)
    assert make_client(cloud).restart_application("app-1") == RestartResult("co-new", "r1")
    assert cloud.calls("ListRecentChangeOrder") == []


def test_webplus_lost_answer_is_resolved_through_latest_change_id_and_describe_change():
    cloud = (
        FakeCloud()
        .on("RestartAppEnv", dropped())
        .on("DescribeAppEnvStatus", (200, {"Code": "OK", "EnvStatus": {"LatestChangeId": "wc-9"}}))
        .on(
            "DescribeChange",
            (
                200,
                {
                    "Code": "OK",
                    "Change": {"ActionName": "RestartApp", "CreateTime": 1704164646000},
                },
            ),
        )
    )
    result = make_client(cloud).restart_app_env("we-1", known_change_ids=["wc-1"])
    assert result == RestartResult("wc-9", None)
    assert len(cloud.calls("RestartAppEnv")) == 1
    assert query_of(cloud.calls("DescribeChange")[0]) == {"EnvId": "we-1", "ChangeId": "wc-9"}


@pytest.mark.parametrize(
    ("latest", "change"),
    [
        ("wc-1", {"ActionName": "RestartApp", "CreateTime": 1704164646000}),  # already known
        ("wc-9", {"ActionName": "Apply", "CreateTime": 1704164646000}),  # not a restart
        ("wc-9", {"ActionName": "RestartApp", "CreateTime": "1704160000000"}),  # too old
        ("", {}),  # no change at all
    ],
)
def test_webplus_latest_change_that_is_not_our_restart_means_resend(latest, change):
    cloud = (
        FakeCloud()
        .on("RestartAppEnv", requests.exceptions.ReadTimeout("t"), ENV_RESTART_OK)
        .on("DescribeAppEnvStatus", (200, {"Code": "OK", "EnvStatus": {"LatestChangeId": latest}}))
        .on("DescribeChange", (200, {"Code": "OK", "Change": change}))
    )
    result = make_client(cloud).restart_app_env("we-1", known_change_ids=["wc-1"])
    assert result == RestartResult("wc-new", "r2")
    assert len(cloud.calls("RestartAppEnv")) == 2


def test_outcome_that_cannot_be_checked_before_the_deadline_raises_restart_outcome_unknown():
    cloud = (
        FakeCloud()
        .on("RestartApplication", requests.exceptions.ReadTimeout("t"))
        .on("ListRecentChangeOrder", (500, {"Code": "InternalError", "Message": "down"}))
    )
    with pytest.raises(RestartOutcomeUnknown) as excinfo:
        make_client(cloud, max_attempts=3).restart_application("app-1")
    assert excinfo.value.target == "EDAS application app-1"
    assert "EDAS application app-1" in str(excinfo.value)
    assert len(cloud.calls("RestartApplication")) == 1


def test_outcome_check_that_is_refused_permission_raises_restart_outcome_unknown():
    cloud = (
        FakeCloud()
        .on("RestartAppEnv", requests.exceptions.ReadTimeout("t"))
        .on("DescribeAppEnvStatus", (403, {"Code": "Forbidden.RAM", "Message": "no"}))
    )
    with pytest.raises(RestartOutcomeUnknown, match="Web\\+ environment we-1"):
        make_client(cloud).restart_app_env("we-1")
    assert len(cloud.calls("RestartAppEnv")) == 1


def test_restart_that_was_not_accepted_and_ran_out_of_attempts_raises_the_real_error():
    cloud = FakeCloud().on("RestartApplication", refused())
    with pytest.raises(TransportError) as excinfo:
        make_client(cloud, max_attempts=2).restart_application("app-1")
    assert excinfo.value.sent is False
    assert len(cloud.calls("RestartApplication")) == 2


def test_a_single_known_change_id_string_is_not_split_into_characters():
    cloud = (
        FakeCloud()
        .on("RestartApplication", dropped(), RESTART_OK)
        .on("ListRecentChangeOrder", edas_orders(OUR_RESTART))
    )
    result = make_client(cloud).restart_application("app-1", known_change_ids="co-ours")
    assert result.change_id == "co-new"


# --- secrets stay out of errors and logs ------------------------------------------------------


def test_no_secret_or_token_reaches_errors_or_logs(caplog):
    caplog.set_level(logging.DEBUG, logger="restart_trigger.aliyun")
    echo = f"server CanonicalRequest is [GET\n/\n\nx-acs-security-token:{TOKEN}\n] {SECRET}"
    cloud = (
        FakeCloud()
        .on("RestartApplication", requests.exceptions.ReadTimeout(f"timeout {SECRET}"))
        .on(
            "ListRecentChangeOrder",
            (503, {"Code": "ServiceUnavailable", "Message": echo}),
            (400, {"Code": "SignatureDoesNotMatch", "Message": echo}),
        )
    )
    client = make_client(cloud, credentials=Credentials(KEY_ID, SECRET, TOKEN))
    with pytest.raises(RestartOutcomeUnknown) as excinfo:
        client.restart_application("app-1")
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
        self.seen.append((action, self.headers["Host"]))
        if action == "RestartApplication":
            # Accept the restart, then drop the connection without answering.
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        now_shanghai = datetime.fromtimestamp(SEND_TIME + 1, UTC).astimezone(SHANGHAI)
        self._reply(
            {
                "Code": 200,
                "ChangeOrderList": {
                    "ChangeOrder": [
                        {
                            "ChangeOrderId": "co-server",
                            "Source": "pop",
                            "CoTypeCode": "CoRestartApplication",
                            "CreateTime": now_shanghai.strftime("%Y-%m-%d %H:%M:%S"),
                        }
                    ]
                },
            }
        )


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
    session = requests.Session()
    session.trust_env = False  # never route loopback traffic through a proxy from the env
    return AliyunClient(
        Credentials(KEY_ID, SECRET),
        "cn-hangzhou",
        endpoints={"edas": edas_url},
        deadline=Deadline(120, clock=fake_time.clock, sleep=fake_time.sleep),
        read_backoff=backoff,
        restart_backoff=backoff,
        timeout=(2.0, 5.0),
        session=session,
        wall_clock=lambda: SEND_TIME,
    )


def test_a_real_dropped_connection_after_sending_is_checked_not_resent(local_server):
    with real_client(local_server) as client:
        result = client.restart_application("app-1")
    assert result == RestartResult("co-server", None)
    actions = [action for action, _ in _Handler.seen]
    assert actions == ["RestartApplication", "ListRecentChangeOrder"]
    port = local_server.rsplit(":", 1)[1]
    assert {host for _, host in _Handler.seen} == {f"127.0.0.1:{port}"}
