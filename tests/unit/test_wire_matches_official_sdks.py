"""On the wire, our client asks for every operation exactly as the official new-style SDKs do.

For each operation the client uses, the same inputs go through our ``AliyunClient`` and through
the official SDK (alibabacloud-edas20170801, alibabacloud-webplus20190320,
alibabacloud-sae20190506), both pointed at one local recorder (an ``http.server`` on 127.0.0.1,
port 0) that records each request and answers the canned 200 body the operation expects (by
``x-acs-version`` and ``x-acs-action``: EDAS and SAE both have a ``RestartApplication``). The
two recordings must agree on method, path, ``x-acs-action``, ``x-acs-version``, every
parameter's name, value and placement (URL query or form body) and the signature scheme.
Signatures themselves are proven byte for byte in ``test_aliyun_auth.py``; this is the "same
request" half.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from restart_trigger.aliyun import AliyunClient, Credentials
from restart_trigger.backoff import Backoff, Deadline
from restart_trigger.targets.edas import (
    EdasTarget,
    get_change_order_info,
    list_recent_change_orders,
    query_application_status,
    restart_application,
)
from restart_trigger.targets.k8s import (
    EdasK8sTarget,
    describe_app_instance_list,
    restart_k8s_application,
)
from restart_trigger.targets.sae import (
    SaeTarget,
    describe_application_groups,
    describe_change_order,
    restart_sae_application,
)
from restart_trigger.targets.webplus import WebPlusTarget, describe_change, restart_app_env

KEY_ID = "test-access-key-id"
SECRET = "test-secret-value-0123456789"
REGION = "cn-hangzhou"
EDAS, WEBPLUS, SAE = "2017-08-01", "2019-03-20", "2019-05-06"
SAE_APP = "0099b7be-5f5b-4512-a7fc-56049ef1a2b3"

ANSWERS: dict[tuple[str, str], dict[str, Any]] = {
    (EDAS, "RestartApplication"): {
        "Code": 200,
        "Message": "success",
        "RequestId": "r-1",
        "ChangeOrderId": "co-new",
    },
    (EDAS, "GetChangeOrderInfo"): {
        "Code": 200,
        "RequestId": "r-2",
        "changeOrderInfo": {"ChangeOrderId": "co-1", "Status": 2},
    },
    (EDAS, "ListRecentChangeOrder"): {
        "Code": 200,
        "RequestId": "r-3",
        "ChangeOrderList": {"ChangeOrder": []},
    },
    (WEBPLUS, "RestartAppEnv"): {
        "Code": "OK",
        "Message": "success",
        "RequestId": "r-4",
        "EnvChange": {"ChangeId": "wc-new", "EnvId": "we-1", "StartTime": "1704164646000"},
    },
    (WEBPLUS, "DescribeChange"): {
        "Code": "OK",
        "RequestId": "r-5",
        "Change": {"ChangeId": "wc-1", "EnvId": "we-1", "ChangeFinished": True},
    },
    (WEBPLUS, "DescribeAppEnvStatus"): {
        "Code": "OK",
        "RequestId": "r-6",
        "EnvStatus": {"EnvId": "we-1", "LatestChangeId": ""},
    },
    (EDAS, "RestartK8sApplication"): {
        "Code": 200,
        "Message": "success",
        "RequestId": "r-7",
        "ChangeOrderId": "co-k8s",
    },
    (SAE, "RestartApplication"): {
        "Code": "200",
        "Success": True,
        "Message": "success",
        "RequestId": "r-8",
        "TraceId": "t-8",
        "Data": {"ChangeOrderId": "sae-co-new"},
    },
    (SAE, "DescribeChangeOrder"): {
        "Code": "200",
        "Success": True,
        "RequestId": "r-9",
        "Data": {"ChangeOrderId": "sae-co-1", "Status": 2, "SubStatus": 0, "AppId": SAE_APP},
    },
    (SAE, "ListChangeOrders"): {
        "Code": "200",
        "Success": True,
        "RequestId": "r-10",
        "Data": {"ChangeOrderList": [], "CurrentPage": 1, "PageSize": 20, "TotalSize": 0},
    },
    (EDAS, "QueryApplicationStatus"): {
        "Code": 200,
        "RequestId": "r-v1",
        "AppInfo": {"Application": {"InstanceCount": 2, "RunningInstanceCount": 1}},
    },
    (EDAS, "DescribeAppInstanceList"): {"Code": 200, "RequestId": "r-v2", "InstanceList": []},
    (SAE, "DescribeApplicationGroups"): {
        "Code": "200",
        "Success": True,
        "RequestId": "r-v3",
        "Data": [{"GroupId": "g-1", "Replicas": 2, "RunningInstances": 2}],
    },
}
"""The canned 200 body of each operation, by (``x-acs-version``, ``x-acs-action``)."""


@dataclass(frozen=True)
class Recorded:
    """One request as it arrived."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lowercased
    body: bytes

    @property
    def action(self) -> str:
        return self.headers.get("x-acs-action", "")

    @property
    def operation(self) -> tuple[str, str]:
        return self.headers.get("x-acs-version", ""), self.action

    @property
    def form(self) -> dict[str, str]:
        if not self.headers.get("content-type", "").startswith("application/x-www-form"):
            return {}
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))

    @property
    def scheme(self) -> str:
        """The signature scheme: the first word of Authorization (``acs``: ROA HMAC-SHA1)."""
        return self.headers.get("authorization", "").split(" ", 1)[0]

    def shape(self) -> dict[str, Any]:
        """What must agree between our request and the SDK's."""
        return {
            "method": self.method,
            "path": self.path,
            "x-acs-action": self.action,
            "x-acs-version": self.headers.get("x-acs-version"),
            "query": self.query,
            "form": self.form,
            "scheme": self.scheme,
            "x-acs-signature-method": self.headers.get("x-acs-signature-method"),
        }


class Recorder(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[Recorded] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def take(self) -> list[Recorded]:
        with self.lock:
            seen, self.seen = self.seen, []
        return seen


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Recorder

    def _record_and_answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        recorded = Recorded(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        with self.server.lock:
            self.server.seen.append(recorded)
        answer = ANSWERS.get(recorded.operation)
        status = 200 if answer is not None else 404
        payload = json.dumps(answer or {"Code": "InvalidAction.NotFound"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-acs-request-id", "r-wire")
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _record_and_answer
    do_POST = _record_and_answer
    do_PUT = _record_and_answer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _no_proxy_for_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDKs take a proxy from the environment, even for 127.0.0.1."""
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def ours(recorder: Recorder) -> Iterator[AliyunClient]:
    client = AliyunClient(
        Credentials(KEY_ID, SECRET),
        region=REGION,
        endpoints={"edas": recorder.url, "webplus": recorder.url, "sae": recorder.url},
        read_backoff=Backoff(first=0.0, max_attempts=1),
        restart_backoff=Backoff(first=0.0, max_attempts=1),
        timeout=(2.0, 5.0),
    )
    recorder.take()
    yield client
    client.close()


@dataclass
class Official:
    """The official new-style SDK clients, pointed at the recorder."""

    edas: Any
    webplus: Any
    sae: Any


@pytest.fixture
def official(recorder: Recorder) -> Official:
    from alibabacloud_edas20170801.client import Client as EdasClient
    from alibabacloud_sae20190506.client import Client as SaeClient
    from alibabacloud_tea_openapi import models as open_api_models
    from alibabacloud_webplus20190320.client import Client as WebPlusClient

    def config() -> Any:
        return open_api_models.Config(
            access_key_id=KEY_ID,
            access_key_secret=SECRET,
            endpoint=recorder.url.removeprefix("http://"),
            protocol="http",
            region_id=REGION,
            read_timeout=5000,
            connect_timeout=2000,
        )

    return Official(
        edas=EdasClient(config()), webplus=WebPlusClient(config()), sae=SaeClient(config())
    )


def _edas_models() -> Any:
    from alibabacloud_edas20170801 import models

    return models


def _webplus_models() -> Any:
    from alibabacloud_webplus20190320 import models

    return models


def _sae_models() -> Any:
    from alibabacloud_sae20190506 import models

    return models


@dataclass(frozen=True)
class Case:
    version: str
    action: str
    ours: Callable[[AliyunClient], Any]
    sdk: Callable[[Official], Any]

    @property
    def operation(self) -> tuple[str, str]:
        return self.version, self.action

    @property
    def name(self) -> str:
        product = {EDAS: "edas", WEBPLUS: "webplus", SAE: "sae"}[self.version]
        return f"{product}-{self.action}"


CASES = [
    Case(
        EDAS,
        "RestartApplication",
        lambda c: restart_application(c, "app-1", ["ecc-1", "ecc-2"]),
        lambda o: o.edas.restart_application(
            _edas_models().RestartApplicationRequest(app_id="app-1", ecc_info="ecc-1,ecc-2")
        ),
    ),
    Case(
        EDAS,
        "GetChangeOrderInfo",
        lambda c: get_change_order_info(c, "co-1"),
        lambda o: o.edas.get_change_order_info(
            _edas_models().GetChangeOrderInfoRequest(change_order_id="co-1")
        ),
    ),
    Case(
        EDAS,
        "ListRecentChangeOrder",
        lambda c: list_recent_change_orders(c, "app-1"),
        lambda o: o.edas.list_recent_change_order(
            _edas_models().ListRecentChangeOrderRequest(app_id="app-1")
        ),
    ),
    Case(
        WEBPLUS,
        "RestartAppEnv",
        lambda c: restart_app_env(
            c, "we-1", batch_size=2, batch_percent=50, batch_interval=10, pause_between_batches=True
        ),
        lambda o: o.webplus.restart_app_env(
            _webplus_models().RestartAppEnvRequest(
                env_id="we-1",
                batch_size=2,
                batch_percent=50,
                batch_interval=10,
                pause_between_batches=True,
                region_id=REGION,
            )
        ),
    ),
    Case(
        WEBPLUS,
        "DescribeChange",
        lambda c: describe_change(c, "we-1", "wc-1"),
        lambda o: o.webplus.describe_change(
            _webplus_models().DescribeChangeRequest(
                env_id="we-1", change_id="wc-1", region_id=REGION
            )
        ),
    ),
    Case(
        # the client reads it before each Web+ restart (the snapshot; see recovery)
        WEBPLUS,
        "DescribeAppEnvStatus",
        lambda c: restart_app_env(c, "we-1"),
        lambda o: o.webplus.describe_app_env_status(
            _webplus_models().DescribeAppEnvStatusRequest(env_id="we-1", region_id=REGION)
        ),
    ),
    Case(
        EDAS,
        "RestartK8sApplication",
        lambda c: restart_k8s_application(c, "app-k8s", timeout=120),
        lambda o: o.edas.restart_k8s_application(
            _edas_models().RestartK8sApplicationRequest(app_id="app-k8s", timeout=120)
        ),
    ),
    Case(
        SAE,
        "RestartApplication",
        lambda c: restart_sae_application(
            c,
            SAE_APP,
            min_ready_instances=1,
            min_ready_instance_ratio=50,
            auto_enable_application_scaling_rule=True,
        ),
        lambda o: o.sae.restart_application(
            _sae_models().RestartApplicationRequest(
                app_id=SAE_APP,
                min_ready_instances=1,
                min_ready_instance_ratio=50,
                auto_enable_application_scaling_rule=True,
            )
        ),
    ),
    Case(
        SAE,
        "DescribeChangeOrder",
        lambda c: describe_change_order(c, "sae-co-1"),
        lambda o: o.sae.describe_change_order(
            _sae_models().DescribeChangeOrderRequest(change_order_id="sae-co-1")
        ),
    ),
    Case(
        # the client reads it before each SAE restart (the snapshot; see recovery)
        SAE,
        "ListChangeOrders",
        lambda c: restart_sae_application(c, SAE_APP),
        lambda o: o.sae.list_change_orders(
            _sae_models().ListChangeOrdersRequest(
                app_id=SAE_APP, co_type="CoRestartApplication", current_page=1, page_size=20
            )
        ),
    ),
    Case(
        # the cloud's view of an EDAS application's instances (verify: {cloud: true})
        EDAS,
        "QueryApplicationStatus",
        lambda c: query_application_status(c, "app-1"),
        lambda o: o.edas.query_application_status(
            _edas_models().QueryApplicationStatusRequest(app_id="app-1")
        ),
    ),
    Case(
        # the cloud's view of an EDAS Kubernetes application's pods (verify: {cloud: true})
        EDAS,
        "DescribeAppInstanceList",
        lambda c: describe_app_instance_list(c, "app-k8s"),
        lambda o: o.edas.describe_app_instance_list(
            _edas_models().DescribeAppInstanceListRequest(app_id="app-k8s")
        ),
    ),
    Case(
        # the cloud's view of an SAE application's groups (verify: {cloud: true})
        SAE,
        "DescribeApplicationGroups",
        lambda c: describe_application_groups(c, SAE_APP),
        lambda o: o.sae.describe_application_groups(
            _sae_models().DescribeApplicationGroupsRequest(app_id=SAE_APP)
        ),
    ),
]


def _only(recorded: list[Recorded], operation: tuple[str, str]) -> Recorded:
    matching = [r for r in recorded if r.operation == operation]
    assert len(matching) == 1, [r.operation for r in recorded]
    return matching[0]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_our_request_is_the_official_sdks_request(case: Case, ours, official, recorder):
    case.ours(ours)
    mine = _only(recorder.take(), case.operation)
    case.sdk(official)
    theirs = _only(recorder.take(), case.operation)

    assert mine.shape() == theirs.shape()


INSTANCE_READS = [
    (EdasTarget(app_id="app-1"), False, "1 of 2 instance(s) running"),
    (EdasK8sTarget(app_id="app-k8s"), False, "the application has no pods"),
    (SaeTarget(app_id=SAE_APP), True, "2 of 2 instance(s) running"),
    (WebPlusTarget(env_id="we-1"), False, "no instance counts in the answer"),
]
"""Each kind's cloud's view of its instances (``verify: {cloud: true}``) from the canned
answer above: ready or not, and words its detail holds."""


@pytest.mark.parametrize(
    ("target", "ready", "detail"), INSTANCE_READS, ids=[t.kind for t, _, _ in INSTANCE_READS]
)
def test_each_kinds_instance_read_is_one_compared_request(
    target, ready, detail, ours, official, recorder
):
    """The read ``verify: {cloud: true}`` makes is one request, of the operation the kind
    names, the same as the official SDK's (its case above), and its answer is read into the
    view."""
    view = target.instances(ours, Deadline(10))
    assert view.ready is ready and detail in view.detail
    (mine,) = recorder.take()
    assert mine.action == target.instances_action
    [case] = [case for case in CASES if case.operation == mine.operation]
    case.sdk(official)
    theirs = _only(recorder.take(), case.operation)
    assert mine.shape() == theirs.shape()


def test_every_operation_the_client_uses_is_compared():
    import sys

    from restart_trigger.aliyun.transport import Operation
    from restart_trigger.targets import KINDS

    modules = {sys.modules[kind.__module__] for kind in KINDS.values()}
    used = {
        (v.version, v.action)
        for module in modules
        for v in vars(module).values()
        if isinstance(v, Operation)
    }
    assert used == {case.operation for case in CASES} == set(ANSWERS)


def test_the_schemes_are_the_ones_each_sdk_signs_with(ours, official, recorder):
    """EDAS V3 (the edas SDK's default), Web+ ROA HMAC-SHA1 (every Web+ SDK's only scheme),
    SAE V3 (the sae SDK's default)."""
    get_change_order_info(ours, "co-1")
    describe_change(ours, "we-1", "wc-1")
    describe_change_order(ours, "sae-co-1")
    edas, webplus, sae = recorder.take()
    official.sae.describe_change_order(
        _sae_models().DescribeChangeOrderRequest(change_order_id="sae-co-1")
    )
    (sae_sdk,) = recorder.take()
    assert (edas.scheme, webplus.scheme, sae.scheme) == ("ACS3-HMAC-SHA256", "acs", sae_sdk.scheme)
    assert sae.scheme == "ACS3-HMAC-SHA256"
    assert sae.headers["x-acs-region-id"] == REGION and "RegionId" not in sae.query
    assert webplus.headers["x-acs-signature-version"] == "1.0"
    assert "x-acs-region-id" not in webplus.headers  # no Web+ SDK sends it: RegionId instead
    assert webplus.query["RegionId"] == REGION
