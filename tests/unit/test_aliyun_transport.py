"""Transport: one signed attempt. What goes on the wire, how an answer becomes a body or a typed
error, which failures count as "never sent", and how the caller's deadline bounds an attempt.

HTTP is faked with a requests transport adapter (no network), except one test that connects to
a closed port on 127.0.0.1. Clocks are injected: nothing here waits for real time.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict

from restart_trigger.aliyun import (
    AcsV3Auth,
    AuthError,
    BusinessError,
    Credentials,
    DeadlineExceeded,
    InvalidResponseError,
    NotFoundError,
    ServerError,
    ThrottlingError,
    TransportError,
)
from restart_trigger.aliyun.transport import Operation, Transport, request_was_not_sent
from restart_trigger.backoff import Deadline

KEY_ID = "test-access-key-id"
SECRET = "test-secret-value-0123456789"
EDAS = "http://127.0.0.1:18080"
WEBPLUS = "http://127.0.0.1:18081"

EDAS_OP = Operation("edas", "GetChangeOrderInfo", "POST", "/pop/v5/x", "2017-08-01")
WEBPLUS_OP = Operation("webplus", "DescribeChange", "GET", "/pop/v1/y", "2019-03-20")


class OneAnswer(requests.adapters.BaseAdapter):
    """Answers every request with ``answer``: ``(status, body[, headers])`` or an exception.

    Records each request and the ``timeout`` it was sent with."""

    def __init__(self, answer) -> None:
        super().__init__()
        self.answer = answer
        self.requests: list[requests.PreparedRequest] = []
        self.timeouts: list = []

    def send(self, request, **kwargs):
        self.requests.append(request)
        self.timeouts.append(kwargs.get("timeout"))
        if isinstance(self.answer, BaseException):
            raise self.answer
        status, body, *rest = self.answer
        response = requests.Response()
        response.status_code = status
        response.reason = http.client.responses.get(status, "")
        response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response.headers = CaseInsensitiveDict(
            {"content-type": "application/json", **(rest or [{}])[0]}
        )
        response.request = request
        return response

    def close(self) -> None:
        pass


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def transport(answer, *, timeout=(5.0, 30.0)) -> tuple[Transport, OneAnswer]:
    adapter = OneAnswer(answer)
    session = requests.Session()
    session.mount("http://", adapter)
    return (
        Transport(
            session=session,
            auth=AcsV3Auth(Credentials(KEY_ID, SECRET)),
            endpoints={"edas": EDAS, "webplus": WEBPLUS},
            region="cn-hangzhou",
            user_agent="restart-trigger/test",
            secrets=[SECRET],
            timeout=timeout,
        ),
        adapter,
    )


def ample() -> Deadline:
    return Deadline(600)


# --- what goes on the wire --------------------------------------------------------------------


def test_one_send_is_one_signed_request_with_the_common_headers():
    t, wire = transport((200, {"Code": 200, "RequestId": "r"}))
    assert t.send(EDAS_OP, {"B": "2", "A": "1"}, deadline=ample()) == {
        "Code": 200,
        "RequestId": "r",
    }
    (request,) = wire.requests
    assert request.method == "POST"
    assert request.url == f"{EDAS}/pop/v5/x?A=1&B=2"
    assert request.headers["x-acs-action"] == "GetChangeOrderInfo"
    assert request.headers["x-acs-version"] == "2017-08-01"
    assert request.headers["x-acs-region-id"] == "cn-hangzhou"
    assert request.headers["accept"] == "application/json"
    assert request.headers["user-agent"] == "restart-trigger/test"
    assert request.headers["Authorization"].startswith("ACS3-HMAC-SHA256 Credential=")


def test_a_form_is_sent_url_encoded_and_sorted_in_the_body():
    t, wire = transport((200, {"Code": "OK"}))
    t.send(WEBPLUS_OP, {}, {"b": "x y", "a": "1"}, deadline=ample())
    (request,) = wire.requests
    assert request.body == b"a=1&b=x+y"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert urlsplit(request.url).query == ""
    assert request.url.startswith(WEBPLUS)


# --- the deadline bounds each attempt ---------------------------------------------------------


def test_the_attempt_timeout_is_ours_while_the_deadline_is_far():
    t, wire = transport((200, {"Code": 200}), timeout=(5.0, 30.0))
    t.send(EDAS_OP, {}, deadline=ample())
    assert wire.timeouts == [(5.0, 30.0)]


def test_the_deadline_caps_the_connect_and_read_timeout_of_an_attempt():
    clock = FakeClock()
    deadline = Deadline(60, clock=clock)
    clock.now = 52.0  # 8 s left
    t, wire = transport((200, {"Code": 200}), timeout=(5.0, 30.0))
    t.send(EDAS_OP, {}, deadline=deadline)
    clock.now = 57.5  # 2.5 s left
    t.send(EDAS_OP, {}, deadline=deadline)
    assert wire.timeouts == [(5.0, 8.0), (2.5, 2.5)]


def test_no_attempt_is_sent_once_the_deadline_has_passed():
    clock = FakeClock()
    deadline = Deadline(60, clock=clock)
    clock.now = 60.0
    t, wire = transport((200, {"Code": 200}))
    with pytest.raises(DeadlineExceeded) as excinfo:
        t.send(EDAS_OP, {}, deadline=deadline)
    assert wire.requests == []
    assert excinfo.value.sent is False
    assert isinstance(excinfo.value, TransportError)
    assert "GetChangeOrderInfo" in str(excinfo.value)


# --- answers become bodies or typed errors ----------------------------------------------------


def test_edas_http_200_with_body_code_other_than_200_is_a_business_error():
    t, _ = transport((200, {"Code": 500, "Message": "app busy", "RequestId": "r"}))
    with pytest.raises(BusinessError) as excinfo:
        t.send(EDAS_OP, {}, deadline=ample())
    assert (excinfo.value.http_status, excinfo.value.code) == (200, "500")


def test_webplus_body_code_other_than_ok_is_an_error():
    t, _ = transport((200, {"Code": "Failed", "Message": "m"}))
    with pytest.raises(BusinessError):
        t.send(WEBPLUS_OP, {}, deadline=ample())


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ((400, {"Code": "EnvOnChanging", "Message": "wait", "RequestId": "r"}), BusinessError),
        ((404, {"Code": "ChangeNotExists", "Message": "no"}), NotFoundError),
        ((400, {"Code": "SignatureDoesNotMatch", "Message": "bad"}), AuthError),
        ((400, {"Code": "Throttling.User"}, {"x-acs-retry-after": "2000"}), ThrottlingError),
    ],
)
def test_http_errors_are_typed_by_their_code_and_status(answer, error):
    t, _ = transport(answer)
    with pytest.raises(error) as excinfo:
        t.send(WEBPLUS_OP, {}, deadline=ample())
    assert excinfo.value.operation == "DescribeChange"


def test_the_server_requested_wait_is_carried_by_the_error():
    t, _ = transport((400, {"Code": "Throttling.User"}, {"x-acs-retry-after": "2000"}))
    with pytest.raises(ThrottlingError) as excinfo:
        t.send(WEBPLUS_OP, {}, deadline=ample())
    assert excinfo.value.retry_after == 2.0


def test_an_error_without_a_request_id_in_its_body_takes_the_header_one():
    t, _ = transport((500, b"", {"x-acs-request-id": "hdr-1"}))
    with pytest.raises(ServerError) as excinfo:
        t.send(EDAS_OP, {}, deadline=ample())
    assert excinfo.value.request_id == "hdr-1"


def test_a_body_that_is_not_json_is_an_invalid_response():
    t, _ = transport((200, b"<html>proxy page</html>"))
    with pytest.raises(InvalidResponseError):
        t.send(EDAS_OP, {}, deadline=ample())


def test_secrets_echoed_by_the_server_are_scrubbed_from_the_error():
    t, _ = transport((400, {"Code": "SignatureDoesNotMatch", "Message": f"echo {SECRET}"}))
    with pytest.raises(AuthError) as excinfo:
        t.send(EDAS_OP, {}, deadline=ample())
    assert SECRET not in str(excinfo.value)


# --- failures without an answer ---------------------------------------------------------------


def refused() -> requests.exceptions.ConnectionError:
    reason = urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection")
    return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", reason))


def dropped() -> requests.exceptions.ConnectionError:
    reason = urllib3.exceptions.ProtocolError(
        "Connection aborted.", http.client.RemoteDisconnected("closed without response")
    )
    return requests.exceptions.ConnectionError(reason)


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


@pytest.mark.parametrize(
    ("exc", "code", "sent"),
    [
        (refused(), "ConnectionNotEstablished", False),
        (requests.exceptions.ReadTimeout(f"read timed out {SECRET}"), "NoResponse", True),
        (dropped(), "NoResponse", True),
    ],
)
def test_a_failed_connection_is_a_transport_error_saying_whether_it_was_sent(exc, code, sent):
    t, _ = transport(exc)
    with pytest.raises(TransportError) as excinfo:
        t.send(EDAS_OP, {}, deadline=ample())
    assert (excinfo.value.code, excinfo.value.sent) == (code, sent)
    assert SECRET not in str(excinfo.value)


def test_unknown_failures_from_requests_are_not_swallowed():
    t, _ = transport(requests.exceptions.InvalidHeader("bad header"))
    with pytest.raises(requests.exceptions.InvalidHeader):
        t.send(EDAS_OP, {}, deadline=ample())


def test_a_real_refused_connection_is_reported_as_not_sent():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    session = requests.Session()
    session.trust_env = False  # never route loopback traffic through a proxy from the env
    t = Transport(
        session=session,
        auth=AcsV3Auth(Credentials(KEY_ID, SECRET)),
        endpoints={"edas": f"http://127.0.0.1:{port}"},
        region="cn-hangzhou",
        user_agent="restart-trigger/test",
        timeout=(2.0, 5.0),
    )
    with pytest.raises(TransportError) as excinfo:
        t.send(EDAS_OP, {}, deadline=ample())
    assert excinfo.value.sent is False
    assert excinfo.value.code == "ConnectionNotEstablished"


def test_the_query_reaches_the_server_as_given():
    t, wire = transport((200, {"Code": "OK"}))
    t.send(WEBPLUS_OP, {"EnvId": "we 1", "ChangeId": "a*b~c/d"}, deadline=ample())
    (request,) = wire.requests
    assert dict(parse_qsl(urlsplit(request.url).query)) == {
        "EnvId": "we 1",
        "ChangeId": "a*b~c/d",
    }
