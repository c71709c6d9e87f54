"""Transport: one signed attempt. What goes on the wire, how an answer becomes a body or a typed
error, which failures count as "never sent", and how the caller's deadline bounds an attempt.

HTTP is faked with a requests transport adapter (no network) and clocks are injected, except
where real sockets are the point: a closed port, and a scripted server on 127.0.0.1 that
drips, stalls or answers slowly; those use real time, each at most a few seconds.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
from contextlib import contextmanager
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict

from restart_trigger.aliyun import (
    AcsRoaSha1Auth,
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
from restart_trigger.aliyun import transport as transport_module
from restart_trigger.aliyun.transport import (
    DeadlineAdapter,
    Operation,
    Transport,
    install_watchdog,
    new_session,
    request_was_not_sent,
)
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


def signers() -> dict:
    creds = Credentials(KEY_ID, SECRET)
    return {"edas": AcsV3Auth(creds), "webplus": AcsRoaSha1Auth(creds)}


def transport(answer, *, timeout=(5.0, 30.0)) -> tuple[Transport, OneAnswer]:
    adapter = OneAnswer(answer)
    session = requests.Session()
    session.mount("http://", adapter)
    return (
        Transport(
            session=session,
            signers=signers(),
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
    assert urlsplit(request.url).query == "RegionId=cn-hangzhou"
    assert request.url.startswith(WEBPLUS)


def test_each_product_is_signed_by_its_own_signer_and_carries_the_region_its_sdk_way():
    t, wire = transport((200, {"Code": 200}))
    t.send(EDAS_OP, {"A": "1"}, deadline=ample())
    wire.answer = (200, {"Code": "OK"})
    t.send(WEBPLUS_OP, {"EnvId": "we-1"}, deadline=ample())
    edas, webplus = wire.requests

    assert edas.headers["Authorization"].startswith("ACS3-HMAC-SHA256 Credential=")
    assert edas.headers["x-acs-region-id"] == "cn-hangzhou"
    assert "RegionId" not in dict(parse_qsl(urlsplit(edas.url).query))

    assert webplus.headers["Authorization"].startswith(f"acs {KEY_ID}:")
    assert webplus.headers["x-acs-signature-method"] == "HMAC-SHA1"
    assert "x-acs-region-id" not in webplus.headers
    assert dict(parse_qsl(urlsplit(webplus.url).query)) == {
        "EnvId": "we-1",
        "RegionId": "cn-hangzhou",
    }


def test_a_product_without_a_signer_is_refused_up_front():
    with pytest.raises(ValueError, match="no signer for webplus"):
        Transport(
            session=requests.Session(),
            signers={"edas": AcsV3Auth(Credentials(KEY_ID, SECRET))},
            endpoints={"edas": EDAS, "webplus": WEBPLUS},
            region="cn-hangzhou",
            user_agent="restart-trigger/test",
        )


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
        signers=signers(),
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
        "RegionId": "cn-hangzhou",
    }


# --- every attempt is bounded in all, on real sockets -----------------------------------------
#
# A scripted server on 127.0.0.1 (port 0) plays one behaviour per connection. These tests use
# real time, but never more than a few seconds: the deadlines are 1 s.


class Scripted:
    """What the scripted server saw and did."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.dripping = False
        self.connections = 0
        self.active = 0
        self.max_active = 0
        self.requests = 0
        self.stop = threading.Event()


def read_request(conn: socket.socket) -> bytes | None:
    """One HTTP request's head and body off ``conn`` (None at EOF)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += conn.recv(65536)
    return head


@contextmanager
def scripted_server(behaviour):
    state = Scripted()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)

    def handle(conn: socket.socket) -> None:
        with state.lock:
            state.connections += 1
        with conn:
            try:
                behaviour(conn, state)
            except OSError:
                pass

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", state
    finally:
        state.stop.set()
        listener.close()


HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 40\r\n\r\n"
DRIP_S = 0.2


def drip_body(conn, state):
    read_request(conn)
    conn.sendall(HEAD)
    state.dripping = True
    for _ in range(40):  # 8 s of body, 1 byte at a time
        conn.sendall(b" ")
        if state.stop.wait(DRIP_S):
            break
    state.dripping = False


def drip_headers(conn, state):
    read_request(conn)
    state.dripping = True
    for byte in HEAD:  # 15 s of status line and headers, 1 byte at a time
        conn.sendall(bytes([byte]))
        if state.stop.wait(DRIP_S):
            break
    state.dripping = False


def stall_before_headers(conn, state):
    read_request(conn)
    state.dripping = True
    state.stop.wait(10)
    state.dripping = False


def answer_slowly(conn, state):
    """Keep-alive: answer each request after 0.3 s, counting requests in flight."""
    while read_request(conn) is not None:
        with state.lock:
            state.requests += 1
            state.active += 1
            state.max_active = max(state.max_active, state.active)
        time.sleep(0.3)
        with state.lock:
            state.active -= 1
        body = b'{"Code": 200}'
        conn.sendall(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )


def real_transport(url, *, session=None, timeout=(2.0, 5.0), max_connections=16):
    session = session or new_session(max_connections)
    session.trust_env = False  # never route loopback traffic through a proxy from the env
    return Transport(
        session=session,
        signers=signers(),
        endpoints={"edas": url, "webplus": url},
        region="cn-hangzhou",
        user_agent="restart-trigger/test",
        timeout=timeout,
        max_connections=max_connections,
    )


def timed_send(t, deadline):
    started = time.monotonic()
    with pytest.raises(TransportError) as excinfo:
        t.send(EDAS_OP, {}, deadline=deadline)
    return excinfo.value, time.monotonic() - started


def test_a_body_that_drips_is_cut_at_the_deadline():
    with scripted_server(drip_body) as (url, server):
        error, took = timed_send(real_transport(url), Deadline(1.0))
        assert server.dripping  # the server had more to send: the client stopped reading
    assert isinstance(error, DeadlineExceeded)
    assert error.sent is True
    assert took < 6  # generous: `server.dripping` above is the real proof


def test_status_line_and_headers_that_drip_are_cut_at_the_deadline():
    # Each byte arrives well within the per-read timeout: only a bound on the whole attempt
    # (the watchdog) ends this.
    with scripted_server(drip_headers) as (url, server):
        error, took = timed_send(real_transport(url), Deadline(1.0))
        assert server.dripping
    assert isinstance(error, DeadlineExceeded)
    assert error.sent is True
    assert "GetChangeOrderInfo" in str(error)
    assert took < 6  # generous: `server.dripping` above is the real proof


def test_a_server_that_never_answers_is_cut_at_the_deadline():
    with scripted_server(stall_before_headers) as (url, server):
        error, took = timed_send(real_transport(url, timeout=(5.0, 30.0)), Deadline(1.0))
        assert server.dripping
    assert isinstance(error, DeadlineExceeded)
    assert error.sent is True
    assert took < 6  # generous: `server.dripping` above is the real proof


def test_an_attempt_is_bounded_by_connect_plus_read_when_the_deadline_is_far():
    with scripted_server(drip_headers) as (url, server):
        error, took = timed_send(real_transport(url, timeout=(0.5, 0.5)), Deadline(600))
        assert server.dripping
    assert not isinstance(error, DeadlineExceeded)
    assert (error.code, error.sent) == ("NoResponse", True)
    assert "1s" in str(error)
    assert took < 6  # generous: `server.dripping` above is the real proof


def test_without_the_watchdog_a_dripping_body_is_still_cut_by_the_read_loop():
    plain = requests.Session()  # not new_session(): no watched connections
    with scripted_server(drip_body) as (url, server):
        error, took = timed_send(real_transport(url, session=plain), Deadline(1.0))
        assert server.dripping
    assert isinstance(error, DeadlineExceeded)
    assert took < 6  # generous: `server.dripping` above is the real proof


def test_an_answer_that_arrives_in_time_is_read_whole():
    with scripted_server(answer_slowly) as (url, _server):
        t = real_transport(url)
        assert t.send(EDAS_OP, {}, deadline=Deadline(5)) == {"Code": 200}
        assert t.send(EDAS_OP, {}, deadline=Deadline(5)) == {"Code": 200}
    assert _server.connections == 1  # the socket went back to the pool and was reused


# --- bounded connections ----------------------------------------------------------------------


def test_threads_share_at_most_max_connections_sockets_per_host():
    with scripted_server(answer_slowly) as (url, server):
        t = real_transport(url, max_connections=2)
        results = []

        def call():
            results.append(t.send(EDAS_OP, {}, deadline=Deadline(10)))

        threads = [threading.Thread(target=call) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert results == [{"Code": 200}] * 6
    assert server.max_active <= 2
    assert server.connections <= 2


def test_waiting_for_a_free_connection_counts_against_the_deadline():
    with scripted_server(stall_before_headers) as (url, server):
        t = real_transport(url, max_connections=1)
        busy = threading.Thread(target=timed_send, args=(t, Deadline(1.5)))
        busy.start()
        time.sleep(0.3)  # the one connection is now held by a server that never answers
        error, took = timed_send(t, Deadline(0.5))
        busy.join(5)
    assert isinstance(error, DeadlineExceeded)
    assert error.sent is False
    assert "nothing was sent" in str(error)
    assert took < 5  # the server stalls 10 s
    assert server.connections == 1


def test_max_connections_must_be_a_positive_integer():
    for bad in (0, -1, 1.5, True, None):
        with pytest.raises(ValueError, match="max_connections"):
            new_session(bad)


# --- the watchdog's reach into urllib3 is guarded ---------------------------------------------


def test_a_new_session_watches_its_connections():
    session = new_session()
    for url in ("http://127.0.0.1", "https://edas.cn-hangzhou.aliyuncs.com"):
        adapter = session.get_adapter(url)
        assert isinstance(adapter, DeadlineAdapter)
        assert adapter.watched is True


@pytest.mark.parametrize(
    "manager",
    [
        object(),  # no pool_classes_by_scheme at all
        SimpleNamespace(pool_classes_by_scheme=None),
        SimpleNamespace(pool_classes_by_scheme={"http": object, "https": "not a class"}),
        SimpleNamespace(pool_classes_by_scheme={}),
    ],
)
def test_a_pool_manager_that_does_not_look_as_expected_is_left_alone(manager):
    before = getattr(manager, "pool_classes_by_scheme", None)
    assert install_watchdog(manager) is False
    after = getattr(manager, "pool_classes_by_scheme", None)
    assert after == before


class OnlyRead:
    """A raw body without ``read1`` (urllib3 1.x)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, amt=None):
        chunk, self.data = self.data[:amt], self.data[amt:]
        return chunk

    def close(self):
        pass


def test_a_raw_body_without_read1_is_read_with_read():
    class RawAnswer(OneAnswer):
        def send(self, request, **kwargs):
            response = super().send(request, **kwargs)
            response._content = False
            response.raw = OnlyRead(json.dumps({"Code": 200, "Big": "x" * 5000}).encode())
            return response

    adapter = RawAnswer((200, b""))
    session = requests.Session()
    session.mount("http://", adapter)
    t = Transport(
        session=session,
        signers=signers(),
        endpoints={"edas": EDAS},
        region="cn-hangzhou",
        user_agent="restart-trigger/test",
    )
    assert t.send(EDAS_OP, {}, deadline=ample())["Big"] == "x" * 5000


class Conn:
    """A connection as the watchdog sees it: a ``sock``; ``peer`` is the other end."""

    def __init__(self) -> None:
        self.sock, self.peer = socket.socketpair()
        self.peer.setblocking(False)

    def was_shut(self) -> bool:
        try:
            return self.peer.recv(1) == b""
        except BlockingIOError:
            return False

    def close(self) -> None:
        self.sock.close()
        self.peer.close()


def test_the_watchdog_shuts_the_socket_of_an_attempt_at_its_limit():
    dog = transport_module._Watchdog()
    attempt = transport_module._Attempt(time.monotonic() + 0.2)
    conn = Conn()
    try:
        dog.attach(attempt, conn)
        dog.arm(attempt)
        time.sleep(0.6)
        assert attempt.aborted
        assert conn.was_shut()
    finally:
        conn.close()


def test_the_watchdog_leaves_alone_an_attempt_that_ended_in_time():
    dog = transport_module._Watchdog()
    attempt = transport_module._Attempt(time.monotonic() + 0.2)
    conn = Conn()
    try:
        dog.attach(attempt, conn)
        dog.arm(attempt)
        dog.disarm(attempt)
        time.sleep(0.4)
        assert not attempt.aborted
        assert not conn.was_shut()
    finally:
        conn.close()


def test_the_watchdog_never_shuts_a_connection_another_attempt_has_taken_over():
    dog = transport_module._Watchdog()
    first, second = transport_module._Attempt(0.0), transport_module._Attempt(0.0)
    conn = Conn()
    try:
        dog.attach(first, conn)
        dog.attach(second, conn)  # back in the pool, then taken by the next attempt
        dog._shut(first)
        assert not conn.was_shut()
    finally:
        conn.close()


def test_a_connection_shut_after_going_back_to_the_pool_is_reopened_by_the_next_attempt():
    dog = transport_module._Watchdog()
    first, second = transport_module._Attempt(0.0), transport_module._Attempt(0.0)
    conn = Conn()
    try:
        dog.attach(first, conn)
        dog._shut(first)  # the limit came just as the body ended and the socket was pooled
        assert conn.was_shut()
        assert dog.attach(second, conn) is True  # the next attempt must reopen it
        assert dog.attach(second, conn) is False
    finally:
        conn.close()


# --- loopback stays loopback ------------------------------------------------------------------


def test_localhost_is_connected_to_as_127_0_0_1_and_signed_as_such():
    t, wire = transport((200, {"Code": 200}))
    t = Transport(
        session=t.session,
        signers=t.signers,
        endpoints={"edas": "http://localhost:18080"},
        region="cn-hangzhou",
        user_agent="restart-trigger/test",
    )
    t.send(EDAS_OP, {}, deadline=ample())
    (request,) = wire.requests
    assert request.url == "http://127.0.0.1:18080/pop/v5/x"
    assert request.headers["Host"] == "127.0.0.1:18080"
    assert "host" in request.headers["Authorization"].split("SignedHeaders=")[1]


def test_no_resolver_can_send_localhost_elsewhere(monkeypatch):
    real_getaddrinfo = socket.getaddrinfo

    def hostile(host, *args, **kwargs):
        if str(host).lower().startswith("localhost"):
            return real_getaddrinfo("192.0.2.1", *args, **kwargs)  # TEST-NET: nowhere
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hostile)
    with scripted_server(answer_slowly) as (url, _server):
        port = url.rsplit(":", 1)[1]
        t = real_transport(f"http://localhost:{port}")
        assert t.send(EDAS_OP, {}, deadline=Deadline(5)) == {"Code": 200}


def test_loopback_endpoints_never_use_a_proxy_from_the_environment(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("ALL_PROXY", "http://proxy.invalid:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    seen = []

    class Record(OneAnswer):
        def send(self, request, **kwargs):
            seen.append(kwargs.get("proxies") or {})
            return super().send(request, **kwargs)

    session = requests.Session()
    session.mount("http://", Record((200, {"Code": 200})))
    session.mount("https://", Record((200, {"Code": "OK"})))
    t = Transport(
        session=session,
        signers=signers(),
        endpoints={"edas": "http://127.0.0.1:18080", "webplus": "https://webplus.example.com"},
        region="cn-hangzhou",
        user_agent="restart-trigger/test",
    )
    t.send(EDAS_OP, {}, deadline=ample())
    t.send(WEBPLUS_OP, {}, deadline=ample())
    loopback, remote = seen
    assert not any(loopback.get(key) for key in ("http", "https", "all"))
    assert remote.get("https") == "http://proxy.invalid:3128"  # other hosts keep theirs
