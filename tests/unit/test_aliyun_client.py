"""AliyunClient: what goes on the wire, how answers become results or typed errors, retries,
and how a restart whose answer was lost is checked instead of blindly resent.

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
import ssl
import threading
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict

from providers.aliyun import (
    AliyunClient,
    AuthError,
    BusinessError,
    Credentials,
    InvalidResponseError,
    NotFoundError,
    RestartOutcomeUnknown,
    RestartResult,
    RetryPolicy,
    ServerError,
    TransportError,
    parse_time,
)
from providers.aliyun.client import SHANGHAI, request_was_not_sent

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


def make_client(
    cloud: FakeCloud, *, credentials=None, max_attempts=4, deadline=60.0, fake_time=None
):
    fake_time = fake_time or FakeTime()
    session = requests.Session()
    session.mount("http://", cloud)
    session.mount("https://", cloud)
    policy = RetryPolicy(
        max_attempts=max_attempts,
        base_delay=0.5,
        max_delay=4.0,
        deadline=deadline,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        random=lambda: 1.0,
    )
    return AliyunClient(
        credentials or Credentials(KEY_ID, SECRET),
        region="cn-hangzhou",
        endpoints={"edas": EDAS, "webplus": WEBPLUS},
        retry=policy,
        session=session,
        wall_clock=lambda: SEND_TIME,
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
        .on("DescribeAppEnvStatus", (200, {"Code": "OK", "EnvStatus": {"EnvStatus": "RUNNING"}}))
    )
    client = make_client(cloud)
    assert client.get_change_order_info("co-1") == {"Status": 2}
    assert client.list_recent_change_orders("app-1") == [{"ChangeOrderId": "a"}]
    assert client.describe_change("we-1", "wc-1") == {"ChangeFinished": True}
    assert client.describe_app_env_status("we-1") == {"EnvStatus": "RUNNING"}

    seen = [(r.method, urlsplit(r.url).path, query_of(r)) for r in cloud.requests]
    assert seen == [
        ("POST", "/pop/v5/changeorder/change_order_info", {"ChangeOrderId": "co-1"}),
        ("POST", "/pop/v5/changeorder/change_order_list", {"AppId": "app-1"}),
        ("GET", "/pop/v1/wam/changeInfo", {"EnvId": "we-1", "ChangeId": "wc-1"}),
        ("GET", "/pop/v1/wam/appEnv/status", {"EnvId": "we-1"}),
    ]
    for request in cloud.requests:
        verify_signature(request)


def test_an_empty_change_order_list_is_an_empty_list():
    cloud = FakeCloud().on("ListRecentChangeOrder", (200, {"Code": 200, "ChangeOrderList": {}}))
    assert make_client(cloud).list_recent_change_orders("app-1") == []


# --- answers become results or typed errors ---------------------------------------------------


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


def test_webplus_body_code_other_than_ok_is_an_error():
    cloud = FakeCloud().on("DescribeAppEnvStatus", (200, {"Code": "Failed", "Message": "m"}))
    with pytest.raises(BusinessError):
        make_client(cloud).describe_app_env_status("we-1")


def test_a_body_that_is_not_json_is_an_invalid_response():
    cloud = FakeCloud().on("GetChangeOrderInfo", (200, b"<html>proxy page</html>"))
    with pytest.raises(InvalidResponseError):
        make_client(cloud, max_attempts=1).get_change_order_info("co-1")


def test_signature_errors_are_auth_errors_and_not_retried():
    cloud = FakeCloud().on(
        "DescribeAppEnvStatus", (400, {"Code": "SignatureDoesNotMatch", "Message": "bad"})
    )
    with pytest.raises(AuthError):
        make_client(cloud).describe_app_env_status("we-1")
    assert len(cloud.requests) == 1


# --- retries ----------------------------------------------------------------------------------


def test_throttling_is_retried_after_the_server_requested_delay_and_re_signed():
    fake_time = FakeTime()
    cloud = FakeCloud().on(
        "DescribeAppEnvStatus",
        (400, {"Code": "Throttling.User", "Message": "slow"}, {"x-acs-retry-after": "2000"}),
        (200, {"Code": "OK", "EnvStatus": {"LatestChangeId": "wc-1"}}),
    )
    client = make_client(cloud, fake_time=fake_time)
    assert client.describe_app_env_status("we-1") == {"LatestChangeId": "wc-1"}
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
    assert result == RestartResult("co-ours", None, recovered=True)
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
    assert make_client(cloud).restart_application("app-1").recovered is True

    cloud = FakeCloud().on("RestartApplication", (503, {"Code": "ServiceUnavailable"}), RESTART_OK)
    assert make_client(cloud).restart_application("app-1").recovered is False
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
    assert result == RestartResult("wc-9", None, recovered=True)
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


@pytest.mark.parametrize(
    ("exc", "not_sent"),
    [
        (requests.exceptions.ConnectTimeout("connect timed out"), True),
        (refused(), True),
        (
            requests.exceptions.SSLError(
                urllib3.exceptions.MaxRetryError(
                    None, "/", urllib3.exceptions.SSLError(ssl.SSLCertVerificationError("bad"))
                )
            ),
            True,
        ),
        (requests.exceptions.ConnectionError(socket.gaierror("no such host")), True),
        (dropped(), False),
        (requests.exceptions.ReadTimeout("read timed out"), False),
        (requests.exceptions.SSLError("bad record mac"), False),
        (requests.exceptions.ChunkedEncodingError("truncated"), False),
    ],
)
def test_only_failures_before_connecting_count_as_not_sent(exc, not_sent):
    assert request_was_not_sent(exc) is not_sent


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
    caplog.set_level(logging.DEBUG, logger="providers.aliyun")
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


# --- time parsing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        1704164645000,
        "1704164645000",
        1704164645,
        1704164645000.0,
        "2024-01-02 11:04:05",
        "2024/01/02 11:04:05",
        "2024-01-02T03:04:05Z",
        "2024-01-02T11:04:05+08:00",
        "2024-01-02T11:04:05",
    ],
)
def test_server_times_are_parsed_leniently(value):
    assert parse_time(value) == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize("value", [None, "", "soon", True, {}])
def test_unreadable_times_are_none(value):
    assert parse_time(value) is None


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
    policy = RetryPolicy(
        max_attempts=max_attempts,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        random=lambda: 0.0,
    )
    session = requests.Session()
    session.trust_env = False  # never route loopback traffic through a proxy from the env
    return AliyunClient(
        Credentials(KEY_ID, SECRET),
        "cn-hangzhou",
        endpoints={"edas": edas_url},
        retry=policy,
        timeout=(2.0, 5.0),
        session=session,
        wall_clock=lambda: SEND_TIME,
    )


def test_a_real_dropped_connection_after_sending_is_checked_not_resent(local_server):
    with real_client(local_server) as client:
        result = client.restart_application("app-1")
    assert result == RestartResult("co-server", None, recovered=True)
    actions = [action for action, _ in _Handler.seen]
    assert actions == ["RestartApplication", "ListRecentChangeOrder"]
    port = local_server.rsplit(":", 1)[1]
    assert {host for _, host in _Handler.seen} == {f"127.0.0.1:{port}"}


def test_a_real_refused_connection_is_reported_as_not_sent():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with real_client(f"http://127.0.0.1:{port}", max_attempts=2) as client:
        with pytest.raises(TransportError) as excinfo:
            client.restart_application("app-1")
    assert excinfo.value.sent is False
    assert excinfo.value.code == "ConnectionNotEstablished"


def test_unknown_failures_from_requests_are_not_swallowed():
    cloud = FakeCloud().on("DescribeChange", requests.exceptions.InvalidHeader("bad header"))
    with pytest.raises(requests.exceptions.InvalidHeader):
        make_client(cloud).describe_change("we-1", "wc-1")
