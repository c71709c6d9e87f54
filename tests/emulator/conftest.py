"""Helpers for the emulator tests: drive the official SDKs and capture what they send.

``Sdk`` calls one operation with one signature flavour through an official SDK:

* ``roa``: aliyun-python-sdk-core + aliyun-python-sdk-edas / -webplus / -sae (legacy ROA
  HMAC-SHA1);
* ``tea-v2``: alibabacloud-edas20170801 / alibabacloud-sae20190506 with
  ``signature_algorithm='v2'`` and alibabacloud-webplus20190320 (tea ROA HMAC-SHA1);
* ``v3``: alibabacloud-edas20170801 / alibabacloud-sae20190506 (ACS3-HMAC-SHA256) and, for
  Web+ (whose generated client only speaks v2), the generic tea-openapi ``call_api`` with a
  form body.

SAE's ``RestartApplication`` has the name of EDAS's, so SAE calls go through
:meth:`Sdk.sae`; :meth:`Sdk.call` is EDAS and Web+.

``CaptureServer`` is a tiny HTTP server that records the exact request an SDK sends and answers
a canned success, so tests can replay the request, byte for byte or mutated, to the emulator.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from testbed.emulator import (
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_REGION,
    TEST_STS_ACCESS_KEY_ID,
    TEST_STS_ACCESS_KEY_SECRET,
    TEST_STS_TOKEN,
)

FLAVOURS = ("roa", "tea-v2", "v3")
#: The schemes each product's official SDKs sign with (the emulator refuses any other).
EDAS_FLAVOURS = ("roa", "tea-v2", "v3")
WEBPLUS_FLAVOURS = ("roa", "tea-v2")
SAE_FLAVOURS = ("roa", "tea-v2", "v3")


@dataclass(frozen=True)
class Creds:
    """An access key, optionally with an STS token."""

    access_key_id: str
    access_key_secret: str
    security_token: str | None = None


PERMANENT = Creds(TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET)
STS = Creds(TEST_STS_ACCESS_KEY_ID, TEST_STS_ACCESS_KEY_SECRET, TEST_STS_TOKEN)


class SdkError(Exception):
    """An SDK call failed with a server answer: ``status`` and ``code`` as the SDK saw them."""

    def __init__(self, status: int | None, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class Sdk:
    """Calls EDAS / Web+ operations through the official SDKs against ``host`` (``ip:port``)."""

    def __init__(self, host: str, region: str = TEST_REGION) -> None:
        self.host = host
        self.region = region

    # -- clients ---------------------------------------------------------------------------

    def _legacy_client(self, creds: Creds) -> Any:
        from aliyunsdkcore.auth.credentials import AccessKeyCredential, StsTokenCredential
        from aliyunsdkcore.client import AcsClient

        if creds.security_token:
            credential: Any = StsTokenCredential(
                creds.access_key_id, creds.access_key_secret, creds.security_token
            )
        else:
            credential = AccessKeyCredential(creds.access_key_id, creds.access_key_secret)
        ip, port = self.host.rsplit(":", 1)
        return AcsClient(
            region_id=self.region,
            credential=credential,
            port=int(port),
            auto_retry=False,
            timeout=30,
        )

    def _tea_config(self, creds: Creds, v2: bool) -> Any:
        from alibabacloud_tea_openapi.models import Config

        return Config(
            access_key_id=creds.access_key_id,
            access_key_secret=creds.access_key_secret,
            security_token=creds.security_token,
            endpoint=self.host,
            protocol="http",
            region_id=self.region,
            signature_algorithm="v2" if v2 else None,
            read_timeout=30000,
            connect_timeout=5000,
        )

    # -- dispatch --------------------------------------------------------------------------

    def call(self, flavour: str, operation: str, creds: Creds = PERMANENT, **params: Any) -> dict:
        """Call ``operation`` (the API action name) and return the decoded response body."""
        try:
            if flavour == "roa":
                return self._legacy(operation, creds, params)
            if flavour in ("tea-v2", "v3"):
                return self._tea(operation, creds, params, v2=flavour == "tea-v2")
        except Exception as exc:  # noqa: BLE001 - normalise both SDKs' server errors
            raise _as_sdk_error(exc) from exc
        raise ValueError(f"unknown flavour {flavour}")

    def _legacy(self, operation: str, creds: Creds, params: dict[str, Any]) -> dict:
        from aliyunsdkedas.request.v20170801 import (
            ContinuePipelineRequest,
            GetChangeOrderInfoRequest,
            ListRecentChangeOrderRequest,
            RestartApplicationRequest,
            RestartK8sApplicationRequest,
        )
        from aliyunsdkwebplus.request.v20190320 import (
            DescribeAppEnvStatusRequest,
            DescribeChangeRequest,
            RestartAppEnvRequest,
            ResumeChangeRequest,
        )

        classes = {
            "RestartApplication": RestartApplicationRequest.RestartApplicationRequest,
            "GetChangeOrderInfo": GetChangeOrderInfoRequest.GetChangeOrderInfoRequest,
            "ListRecentChangeOrder": ListRecentChangeOrderRequest.ListRecentChangeOrderRequest,
            "RestartAppEnv": RestartAppEnvRequest.RestartAppEnvRequest,
            "DescribeChange": DescribeChangeRequest.DescribeChangeRequest,
            "DescribeAppEnvStatus": DescribeAppEnvStatusRequest.DescribeAppEnvStatusRequest,
            "ContinuePipeline": ContinuePipelineRequest.ContinuePipelineRequest,
            "ResumeChange": ResumeChangeRequest.ResumeChangeRequest,
            "RestartK8sApplication": RestartK8sApplicationRequest.RestartK8sApplicationRequest,
        }
        request = classes[operation]()
        for name, value in params.items():
            if operation == "RestartAppEnv":
                request.add_body_params(name, value)  # 1.0.0 has no setters for batch params
            else:
                getattr(request, f"set_{name}")(value)
        request.set_endpoint(self.host.rsplit(":", 1)[0])
        request.set_protocol_type("http")
        client = self._legacy_client(creds)
        return json.loads(client.do_action_with_exception(request))

    def _tea(self, operation: str, creds: Creds, params: dict[str, Any], v2: bool) -> dict:
        from alibabacloud_edas20170801 import models as edas_models
        from alibabacloud_edas20170801.client import Client as EdasClient
        from alibabacloud_webplus20190320 import models as webplus_models
        from alibabacloud_webplus20190320.client import Client as WebPlusClient

        snake = {k: _snake(k) for k in params}
        kwargs = {snake[k]: v for k, v in params.items()}
        config = self._tea_config(creds, v2)
        edas_ops = {
            "RestartApplication": ("restart_application", edas_models.RestartApplicationRequest),
            "GetChangeOrderInfo": ("get_change_order_info", edas_models.GetChangeOrderInfoRequest),
            "ListRecentChangeOrder": (
                "list_recent_change_order",
                edas_models.ListRecentChangeOrderRequest,
            ),
            "ContinuePipeline": ("continue_pipeline", edas_models.ContinuePipelineRequest),
            "RestartK8sApplication": (
                "restart_k8s_application",
                edas_models.RestartK8sApplicationRequest,
            ),
        }
        if operation in edas_ops:
            method, model = edas_ops[operation]
            response = getattr(EdasClient(config), method)(model(**kwargs))
            return response.body.to_map()
        if v2:
            webplus_ops = {
                "RestartAppEnv": ("restart_app_env", webplus_models.RestartAppEnvRequest),
                "DescribeChange": ("describe_change", webplus_models.DescribeChangeRequest),
                "DescribeAppEnvStatus": (
                    "describe_app_env_status",
                    webplus_models.DescribeAppEnvStatusRequest,
                ),
                "ResumeChange": ("resume_change", webplus_models.ResumeChangeRequest),
            }
            method, model = webplus_ops[operation]
            response = getattr(WebPlusClient(config), method)(model(**kwargs))
            return response.body.to_map()
        return self._tea_v3_webplus(config, operation, params)

    def sae(self, flavour: str, operation: str, creds: Creds = PERMANENT, **params: Any) -> dict:
        """Call an SAE ``operation`` (RestartApplication, DescribeChangeOrder,
        ListChangeOrders) through aliyun-python-sdk-sae (``roa``) or alibabacloud-sae20190506
        (``tea-v2``, ``v3``); return the decoded response body."""
        try:
            if flavour == "roa":
                return self._sae_legacy(operation, creds, params)
            if flavour in ("tea-v2", "v3"):
                return self._sae_tea(operation, creds, params, v2=flavour == "tea-v2")
        except Exception as exc:  # noqa: BLE001 - normalise both SDKs' server errors
            raise _as_sdk_error(exc) from exc
        raise ValueError(f"unknown flavour {flavour}")

    def _sae_legacy(self, operation: str, creds: Creds, params: dict[str, Any]) -> dict:
        from aliyunsdksae.request.v20190506 import (
            DescribeChangeOrderRequest,
            ListChangeOrdersRequest,
            RestartApplicationRequest,
        )

        classes = {
            "RestartApplication": RestartApplicationRequest.RestartApplicationRequest,
            "DescribeChangeOrder": DescribeChangeOrderRequest.DescribeChangeOrderRequest,
            "ListChangeOrders": ListChangeOrdersRequest.ListChangeOrdersRequest,
        }
        request = classes[operation]()
        for name, value in params.items():
            getattr(request, f"set_{name}")(value)
        request.set_endpoint(self.host.rsplit(":", 1)[0])
        request.set_protocol_type("http")
        return json.loads(self._legacy_client(creds).do_action_with_exception(request))

    def _sae_tea(self, operation: str, creds: Creds, params: dict[str, Any], v2: bool) -> dict:
        from alibabacloud_sae20190506 import models as sae_models
        from alibabacloud_sae20190506.client import Client as SaeClient

        ops = {
            "RestartApplication": ("restart_application", sae_models.RestartApplicationRequest),
            "DescribeChangeOrder": (
                "describe_change_order",
                sae_models.DescribeChangeOrderRequest,
            ),
            "ListChangeOrders": ("list_change_orders", sae_models.ListChangeOrdersRequest),
        }
        method, model = ops[operation]
        kwargs = {_snake(k): v for k, v in params.items()}
        client = SaeClient(self._tea_config(creds, v2))
        return getattr(client, method)(model(**kwargs)).body.to_map()

    def raw(
        self,
        flavour: str,
        method: str,
        path: str,
        action: str,
        version: str,
        query: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        creds: Creds = PERMANENT,
        json_body: bool = False,
    ) -> dict:
        """Send any method, path, action and version, signed by an SDK's generic request.

        ``roa`` uses aliyun-python-sdk-core ``CommonRequest``; ``tea-v2`` and ``v3`` use
        tea-openapi ``call_api`` (ROA style, a form body, or JSON with ``json_body``).
        Parameters go exactly where given, so tests can put them where the operation's own
        SDK would not.
        """
        try:
            if flavour == "roa":
                return self._raw_legacy(method, path, action, version, query, form, creds)
            return self._raw_tea(
                flavour, method, path, action, version, query, form, creds, json_body
            )
        except Exception as exc:  # noqa: BLE001 - normalise both SDKs' server errors
            raise _as_sdk_error(exc) from exc

    def _raw_legacy(self, method, path, action, version, query, form, creds) -> dict:
        from aliyunsdkcore.request import CommonRequest

        request = CommonRequest(
            domain=self.host.rsplit(":", 1)[0],
            version=version,
            action_name=action,
            uri_pattern=path,
        )
        request.set_method(method)
        request.set_protocol_type("http")
        request.set_accept_format("json")
        for name, value in (query or {}).items():
            request.add_query_param(name, value)
        for name, value in (form or {}).items():
            request.add_body_params(name, value)
        return json.loads(self._legacy_client(creds).do_action_with_exception(request))

    def _raw_tea(
        self, flavour, method, path, action, version, query, form, creds, json_body
    ) -> dict:
        from alibabacloud_tea_openapi import utils_models
        from alibabacloud_tea_openapi.client import Client as OpenApiClient
        from darabonba.runtime import RuntimeOptions

        request = utils_models.OpenApiRequest(query=query or None, body=form or None)
        api = utils_models.Params(
            action=action,
            version=version,
            protocol="HTTP",
            pathname=path,
            method=method,
            auth_type="AK",
            style="ROA",
            req_body_type="json" if json_body else "formData",
            body_type="json",
        )
        config = self._tea_config(creds, v2=flavour == "tea-v2")
        return OpenApiClient(config).call_api(api, request, RuntimeOptions())["body"]

    @staticmethod
    def _tea_v3_webplus(config: Any, operation: str, params: dict[str, Any]) -> dict:
        from alibabacloud_tea_openapi import utils_models
        from alibabacloud_tea_openapi.client import Client as OpenApiClient
        from darabonba.runtime import RuntimeOptions

        routes = {
            "RestartAppEnv": ("POST", "/pop/v1/wam/appEnv/restart"),
            "DescribeChange": ("GET", "/pop/v1/wam/changeInfo"),
            "DescribeAppEnvStatus": ("GET", "/pop/v1/wam/appEnv/status"),
            "ResumeChange": ("POST", "/pop/v1/wam/change/resume"),
        }
        method, path = routes[operation]
        text = {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in params.items()}
        if method == "POST":
            request = utils_models.OpenApiRequest(body=text)
        else:
            request = utils_models.OpenApiRequest(query=text)
        api = utils_models.Params(
            action=operation,
            version="2019-03-20",
            protocol="HTTP",
            pathname=path,
            method=method,
            auth_type="AK",
            style="ROA",
            req_body_type="formData",
            body_type="json",
        )
        result = OpenApiClient(config).call_api(api, request, RuntimeOptions())
        return result["body"]


def _snake(name: str) -> str:
    out = ""
    for index, char in enumerate(name):
        if char.isupper() and index:
            out += "_"
        out += char.lower()
    return out


def _as_sdk_error(exc: Exception) -> Exception:
    from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
    from aliyunsdkcore.acs_exception.exceptions import ServerException

    if isinstance(exc, ServerException):
        return SdkError(exc.get_http_status(), exc.get_error_code(), exc.get_error_msg())
    if isinstance(exc, AlibabaCloudException):
        data = getattr(exc, "data", None) or {}
        return SdkError(getattr(exc, "status_code", None), exc.code, data.get("Message", ""))
    return exc


# ----------------------------------------------------------------------------------------------
# Capturing and replaying raw requests
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Captured:
    """A request exactly as an SDK sent it."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """First value of a header (case-insensitive)."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def with_header(self, name: str, value: str) -> Captured:
        """Replace a header's value (keeping its spelling and position)."""
        assert self.header(name) is not None, f"{name} was not sent"
        headers = tuple((k, value if k.lower() == name.lower() else v) for k, v in self.headers)
        return replace(self, headers=headers)

    def without_header(self, name: str) -> Captured:
        """Drop a header."""
        return replace(
            self, headers=tuple((k, v) for k, v in self.headers if k.lower() != name.lower())
        )

    def with_body(self, body: bytes) -> Captured:
        """Replace the body (Content-Length is recomputed on send)."""
        return replace(self, body=body)

    def with_target(self, target: str) -> Captured:
        """Replace the path and query."""
        return replace(self, target=target)

    def send(self, host: str, timeout_s: float = 30.0) -> tuple[int, dict[str, str], Any]:
        """Send to ``host`` (``ip:port``) with the captured headers, Host included, verbatim.

        ``timeout_s`` is the socket timeout of each connect/read (TimeoutError when it fires).
        """
        ip, port = host.rsplit(":", 1)
        conn = http.client.HTTPConnection(ip, int(port), timeout=timeout_s)
        try:
            conn.putrequest(self.method, self.target, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers:
                if name.lower() != "content-length":
                    conn.putheader(name, value)
            if self.body or self.method in ("POST", "PUT"):
                conn.putheader("Content-Length", str(len(self.body)))
            conn.endheaders(self.body or None)
            response = conn.getresponse()
            raw = response.read()
            headers = {k.lower(): v for k, v in response.getheaders()}
            return response.status, headers, json.loads(raw) if raw else None
        finally:
            conn.close()


class CaptureServer:
    """Records each request and answers ``canned`` (a JSON body) with HTTP 200."""

    def __init__(self) -> None:
        self.captured: list[Captured] = []
        self.canned: dict[str, Any] = {"RequestId": "CAPTURED", "Code": 200, "Message": "success"}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.captured.append(
                    Captured(self.command, self.path, tuple(self.headers.items()), body)
                )
                payload = json.dumps(outer.canned).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _any  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def capture(self, flavour: str, operation: str, creds: Creds = PERMANENT, **params: Any):
        """Let an SDK send one request here; return what arrived."""
        self.captured.clear()
        Sdk(self.host).call(flavour, operation, creds, **params)
        assert len(self.captured) == 1, self.captured
        return self.captured[0]

    def capture_sae(self, flavour: str, operation: str, creds: Creds = PERMANENT, **params: Any):
        """Like :meth:`capture`, for an SAE operation (:meth:`Sdk.sae`)."""
        self.captured.clear()
        Sdk(self.host).sae(flavour, operation, creds, **params)
        assert len(self.captured) == 1, self.captured
        return self.captured[0]

    def capture_raw(self, flavour: str, *args: Any, **kwargs: Any) -> Captured:
        """Like :meth:`capture`, for :meth:`Sdk.raw` (any method, path, action and version)."""
        self.captured.clear()
        Sdk(self.host).raw(flavour, *args, **kwargs)
        assert len(self.captured) == 1, self.captured
        return self.captured[0]

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def capture_server() -> Iterator[CaptureServer]:
    """A running :class:`CaptureServer`."""
    server = CaptureServer()
    yield server
    server.close()


@pytest.fixture
def sdk(emulator) -> Sdk:
    """An :class:`Sdk` pointed at the (freshly seeded) emulator."""
    return Sdk(emulator.host)


@pytest.fixture
def creds_named() -> dict[str, Creds]:
    """The test account's keys: ``permanent`` and ``sts`` (with its security token)."""
    return {"permanent": PERMANENT, "sts": STS}


@pytest.fixture
def wrong_creds() -> dict[str, Creds]:
    """Keys the emulator must reject: a wrong secret and an unknown key id."""
    return {
        "wrong_secret": Creds(TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET + "x"),
        "unknown_key": Creds("test-unknown-key-id", TEST_ACCESS_KEY_SECRET),
        "sts_wrong_token": Creds(
            TEST_STS_ACCESS_KEY_ID, TEST_STS_ACCESS_KEY_SECRET, TEST_STS_TOKEN + "x"
        ),
        "sts_without_token": Creds(TEST_STS_ACCESS_KEY_ID, TEST_STS_ACCESS_KEY_SECRET),
    }


def wait_for(predicate, timeout_s: float = 30.0, interval_s: float = 0.1):
    """Poll ``predicate`` until it returns a truthy value (generous deadline, no timing asserts)."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        time.sleep(interval_s)


@pytest.fixture
def poll():
    """The :func:`wait_for` helper."""
    return wait_for


@pytest.fixture
def sdk_for():
    """Factory: ``sdk_for(host, region=...)`` builds an :class:`Sdk` for any emulator."""
    return Sdk
