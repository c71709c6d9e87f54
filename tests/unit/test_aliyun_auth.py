"""Signing: each of our signers must agree byte for byte with the official SDKs.

* ``AcsV3Auth`` (ACS3-HMAC-SHA256) against tea-openapi's V3 signer (alibabacloud-edas20170801);
* ``AcsRoaSha1Auth`` (ROA HMAC-SHA1) against tea's ``do_roarequest`` (alibabacloud-webplus20190320)
  and aliyun-python-sdk-core's ``RoaRequest`` signer (aliyun-python-sdk-webplus).

The SDKs run with their date and nonce fixed and their sending replaced by a capture.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from unittest import mock
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests

from restart_trigger.aliyun import Credentials
from restart_trigger.aliyun.auth import (
    AcsRoaSha1Auth,
    AcsV3Auth,
    canonical_headers,
    canonical_query,
    canonical_resource,
    content_md5,
    hashed_payload,
    host_header,
    rfc2616_date,
    roa_canonical_headers,
    roa_request_string_to_sign,
    rpc_signature,
    rpc_string_to_sign,
)
from tests.unit.sts_fakes import BASE_SECRET, ROLE_ARN, sdk_core_string_to_sign

FIXED_DATE = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
KEY_ID = "test-access-key-id"
SECRET = "test-secret-value-0123456789"
TOKEN = "test-sts-token-abcdefghijklmnop"


def fixed_auth(credentials: Credentials, **kwargs) -> AcsV3Auth:
    return AcsV3Auth(credentials, clock=lambda: FIXED_DATE, nonce=lambda: "nonce-1", **kwargs)


def sign(auth: AcsV3Auth, method: str, url: str, body=None, headers=None):
    prepared = requests.Request(method, url, data=body, headers=headers or {}).prepare()
    return auth(prepared)


# --- the official SDK as the oracle -----------------------------------------------------------


def capture_sdk_request(client, call):
    """Run ``call(client)`` with the SDK's date/nonce fixed and its transport replaced.

    Returns the request object the SDK would have sent (method, pathname, query, headers, body).
    """
    from alibabacloud_tea_openapi.utils import Utils
    from darabonba.core import DaraCore

    captured = {}

    def fake_do_action(request, runtime=None):
        captured["request"] = request
        raise RuntimeError("captured; not sending")

    with (
        mock.patch.object(Utils, "get_timestamp", staticmethod(lambda: "2024-01-02T03:04:05Z")),
        mock.patch.object(Utils, "get_nonce", staticmethod(lambda: "nonce-1")),
        mock.patch.object(DaraCore, "do_action", staticmethod(fake_do_action)),
    ):
        with pytest.raises(Exception):  # noqa: B017 - the SDK wraps our sentinel
            call(client)
    return captured["request"]


def signed_names(authorization: str) -> list[str]:
    return authorization.split("SignedHeaders=")[1].split(",")[0].split(";")


def assert_ours_equals_the_sdk(sdk_request, credentials: Credentials) -> None:
    """Sign the SDK's request (method, URL, headers, body) with our signer, and check it.

    The SDK signs every header it sends; ours signs the documented minimum (host,
    content-type, x-acs-*), so the SDK's own signing function, given just the headers we
    signed, must produce exactly our Authorization; and the only headers we leave unsigned
    are accept and user-agent.
    """
    from alibabacloud_openapi_util.client import Client as OpenApiUtil

    headers = {k: v for k, v in sdk_request.headers.items() if k.lower() != "authorization"}
    query = urlencode(sorted(sdk_request.query.items())) if sdk_request.query else ""
    url = f"http://{headers['host']}{sdk_request.pathname}" + (f"?{query}" if query else "")
    prepared = sign(fixed_auth(credentials), sdk_request.method, url, sdk_request.body, headers)
    ours = prepared.headers["Authorization"]

    theirs = signed_names(sdk_request.headers["Authorization"])
    assert set(theirs) - set(signed_names(ours)) == {"accept", "user-agent"}
    view = SimpleNamespace(
        method=sdk_request.method,
        pathname=sdk_request.pathname,
        query=sdk_request.query,
        headers={name: sdk_request.headers[name] for name in signed_names(ours)},
    )
    expected = OpenApiUtil.get_authorization(
        view,
        "ACS3-HMAC-SHA256",
        sdk_request.headers["x-acs-content-sha256"],
        credentials.access_key_id,
        credentials.access_key_secret,
    )
    assert ours == expected
    assert prepared.headers["x-acs-content-sha256"] == sdk_request.headers["x-acs-content-sha256"]


def tea_config(credentials: Credentials):
    from alibabacloud_tea_openapi import utils_models

    return utils_models.Config(
        access_key_id=credentials.access_key_id,
        access_key_secret=credentials.access_key_secret,
        security_token=credentials.security_token,
        endpoint="127.0.0.1:8080",
        protocol="http",
        region_id="cn-hangzhou",
    )


def test_edas_restart_application_is_signed_as_the_official_edas_sdk_signs_it():
    from alibabacloud_edas20170801 import models
    from alibabacloud_edas20170801.client import Client as EdasClient

    creds = Credentials(KEY_ID, SECRET)
    request = models.RestartApplicationRequest(app_id="app-1", ecc_info="ecc-1,ecc-2")
    sdk = capture_sdk_request(
        EdasClient(tea_config(creds)), lambda c: c.restart_application(request)
    )

    assert sdk.headers["Authorization"].startswith("ACS3-HMAC-SHA256 Credential=")
    assert_ours_equals_the_sdk(sdk, creds)


@pytest.mark.parametrize("token", [None, TOKEN], ids=["access-key", "sts"])
def test_sae_restart_put_is_signed_as_the_official_sae_sdk_signs_it(token):
    """SAE's RestartApplication: a PUT with every parameter (a bool among them) in the query and
    no body, signed V3 by alibabacloud-sae20190506's default ``call_api``."""
    from alibabacloud_sae20190506 import models
    from alibabacloud_sae20190506.client import Client as SaeClient

    creds = Credentials(KEY_ID, SECRET, token)
    request = models.RestartApplicationRequest(
        app_id="0099b7be-5f5b-4512-a7fc-56049ef1a2b3",
        min_ready_instances=-1,
        min_ready_instance_ratio=50,
        auto_enable_application_scaling_rule=True,
    )
    sdk = capture_sdk_request(
        SaeClient(tea_config(creds)), lambda c: c.restart_application(request)
    )

    assert sdk.method == "PUT" and sdk.pathname == "/pop/v1/sam/app/restartApplication"
    assert sdk.query["AutoEnableApplicationScalingRule"] == "True"
    assert sdk.headers["Authorization"].startswith("ACS3-HMAC-SHA256 Credential=")
    assert_ours_equals_the_sdk(sdk, creds)


def test_webplus_form_post_with_sts_token_and_awkward_query_is_signed_as_the_sdk_signs_it():
    from alibabacloud_tea_openapi import utils_models
    from alibabacloud_tea_openapi.client import Client as TeaClient
    from darabonba.runtime import RuntimeOptions

    creds = Credentials(KEY_ID, SECRET, TOKEN)
    params = utils_models.Params(
        action="RestartAppEnv",
        version="2019-03-20",
        protocol="HTTP",
        pathname="/pop/v1/wam/appEnv/restart",
        method="POST",
        auth_type="AK",
        style="ROA",
        req_body_type="formData",
        body_type="json",
    )
    api_request = utils_models.OpenApiRequest(
        query={"RegionId": "cn hang*zhou~/é&=x"},
        body={"EnvId": "we-1", "BatchSize": 2, "PauseBetweenBatches": "true"},
    )
    sdk = capture_sdk_request(
        TeaClient(tea_config(creds)),
        lambda c: c.do_request(params, api_request, RuntimeOptions()),
    )

    assert "x-acs-security-token" in sdk.headers["Authorization"]
    assert_ours_equals_the_sdk(sdk, creds)


def test_default_signed_header_set_canonicalises_exactly_like_the_sdk_helper():
    from alibabacloud_openapi_util.client import Client as OpenApiUtil

    creds = Credentials(KEY_ID, SECRET, TOKEN)
    url = "http://127.0.0.1:8080/pop/v1/wam/changeInfo?EnvId=we%201&ChangeId=a%2Ab~c%2Fd"
    headers = {"x-acs-action": "DescribeChange", "x-acs-version": "2019-03-20", "accept": "x/y"}
    prepared = sign(fixed_auth(creds), "GET", url, headers=headers)

    signed = prepared.headers["Authorization"].split("SignedHeaders=")[1].split(",")[0]
    parts = urlsplit(prepared.url)
    sdk_view = SimpleNamespace(
        method="GET",
        pathname=parts.path,
        query=dict(parse_qsl(parts.query)),
        headers={name: prepared.headers[name] for name in signed.split(";")},
    )
    expected = OpenApiUtil.get_authorization(
        sdk_view, "ACS3-HMAC-SHA256", hashed_payload(b""), KEY_ID, SECRET
    )
    assert prepared.headers["Authorization"] == expected


# --- what gets signed ---------------------------------------------------------------------------


def test_signs_host_with_non_default_port_content_type_and_every_x_acs_header():
    creds = Credentials(KEY_ID, SECRET)
    prepared = sign(
        fixed_auth(creds),
        "POST",
        "http://127.0.0.1:18080/pop/v1/wam/appEnv/restart",
        body=b"EnvId=we-1",
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "x-acs-action": "RestartAppEnv",
            "x-acs-region-id": "cn-hangzhou",
            "user-agent": "not-signed",
        },
    )
    signed = prepared.headers["Authorization"].split("SignedHeaders=")[1].split(",")[0]
    assert signed.split(";") == [
        "content-type",
        "host",
        "x-acs-action",
        "x-acs-content-sha256",
        "x-acs-date",
        "x-acs-region-id",
        "x-acs-signature-nonce",
    ]
    assert prepared.headers["Host"] == "127.0.0.1:18080"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8080/x", "127.0.0.1:8080"),
        ("http://127.0.0.1:80/x", "127.0.0.1"),
        ("https://EDAS.cn-hangzhou.aliyuncs.com/x", "edas.cn-hangzhou.aliyuncs.com"),
        ("https://edas.aliyuncs.com:443/x", "edas.aliyuncs.com"),
        ("https://edas.aliyuncs.com:8443/x", "edas.aliyuncs.com:8443"),
        ("http://[::1]:9000/x", "[::1]:9000"),
    ],
)
def test_host_header_keeps_only_non_default_ports(url, expected):
    assert host_header(url) == expected


def test_content_sha256_is_the_hash_of_the_exact_utf8_body_bytes():
    creds = Credentials(KEY_ID, SECRET)
    prepared = sign(fixed_auth(creds), "POST", "https://h.example/p", body="EnvId=é")
    assert prepared.body == "EnvId=é".encode()
    assert prepared.headers["x-acs-content-sha256"] == hashlib.sha256(prepared.body).hexdigest()
    assert prepared.headers["Content-Length"] == str(len(prepared.body))


def test_empty_body_hashes_the_empty_string():
    prepared = sign(fixed_auth(Credentials(KEY_ID, SECRET)), "GET", "https://h.example/p")
    assert prepared.headers["x-acs-content-sha256"] == hashlib.sha256(b"").hexdigest()


def test_every_signing_gets_a_fresh_nonce_and_the_current_date():
    dates = iter([FIXED_DATE, FIXED_DATE + timedelta(seconds=7)])
    auth = AcsV3Auth(Credentials(KEY_ID, SECRET), clock=lambda: next(dates))
    first = sign(auth, "GET", "https://h.example/p")
    second = sign(auth, "GET", "https://h.example/p")
    assert first.headers["x-acs-signature-nonce"] != second.headers["x-acs-signature-nonce"]
    assert first.headers["x-acs-date"] == "2024-01-02T03:04:05Z"
    assert second.headers["x-acs-date"] == "2024-01-02T03:04:12Z"
    assert first.headers["Authorization"] != second.headers["Authorization"]


def test_date_is_written_in_utc_whatever_the_clock_zone():
    beijing = timezone(timedelta(hours=8))
    auth = AcsV3Auth(
        Credentials(KEY_ID, SECRET), clock=lambda: datetime(2024, 1, 2, 11, 4, 5, tzinfo=beijing)
    )
    assert sign(auth, "GET", "https://h.example/").headers["x-acs-date"] == "2024-01-02T03:04:05Z"


def test_sts_token_is_sent_and_signed_and_absent_without_a_token():
    with_token = sign(fixed_auth(Credentials(KEY_ID, SECRET, TOKEN)), "GET", "https://h.example/")
    assert with_token.headers["x-acs-security-token"] == TOKEN
    assert with_token.headers["x-acs-accesskey-id"] == KEY_ID
    assert "x-acs-security-token" in with_token.headers["Authorization"]

    without = sign(fixed_auth(Credentials(KEY_ID, SECRET)), "GET", "https://h.example/")
    assert "x-acs-security-token" not in without.headers
    assert "x-acs-accesskey-id" not in without.headers


def test_secret_never_appears_in_headers_or_repr():
    auth = fixed_auth(Credentials(KEY_ID, SECRET, TOKEN))
    prepared = sign(auth, "GET", "https://h.example/")
    assert SECRET not in str(dict(prepared.headers))
    assert SECRET not in repr(auth) and TOKEN not in repr(auth)


def test_canonical_query_uses_rfc3986_encoding_with_uppercase_hex():
    query = canonical_query([("b", "x y*z~/é"), ("a", ""), ("A", "1")])
    assert query == "A=1&a=&b=x%20y%2Az~%2F%C3%A9"


def test_canonical_headers_lowercase_sort_and_trim_values():
    lines, signed = canonical_headers(
        {"X-Acs-B": "  two ", "Host": "h:1", "x-acs-a": "one"}, ["x-acs-b", "host", "x-acs-a"]
    )
    assert lines == "host:h:1\nx-acs-a:one\nx-acs-b:two\n"
    assert signed == "host;x-acs-a;x-acs-b"


def test_streaming_bodies_are_refused_because_they_cannot_be_hashed_up_front():
    prepared = requests.Request("POST", "https://h.example/", data=iter([b"a"])).prepare()
    with pytest.raises(TypeError, match="in-memory"):
        fixed_auth(Credentials(KEY_ID, SECRET))(prepared)


# === ROA HMAC-SHA1 (Web+) =========================================================================

FIXED_RFC_DATE = "Tue, 02 Jan 2024 03:04:05 GMT"
AWKWARD = "we 1&=/é*~+%"
"""A value with every character the ROA resource and the URL encode differently."""


def fixed_roa_auth(credentials: Credentials) -> AcsRoaSha1Auth:
    return AcsRoaSha1Auth(credentials, clock=lambda: FIXED_DATE, nonce=lambda: "nonce-1")


def capture_webplus_request(credentials: Credentials, call):
    """Run ``call(client, runtime)`` on the official Web+ SDK (tea, alibabacloud-webplus20190320)
    with its date and nonce fixed and its transport replaced; return the request it signed."""
    from alibabacloud_tea_openapi import models as open_api_models
    from alibabacloud_tea_openapi.utils import Utils
    from alibabacloud_tea_util import models as util_models
    from alibabacloud_webplus20190320.client import Client as WebPlusClient
    from darabonba.core import DaraCore

    captured = {}

    def fake_do_action(request, runtime=None):
        captured["request"] = request
        raise RuntimeError("captured; not sending")

    config = open_api_models.Config(
        access_key_id=credentials.access_key_id,
        access_key_secret=credentials.access_key_secret,
        security_token=credentials.security_token,
        endpoint="127.0.0.1:8080",
        protocol="http",
        region_id="cn-hangzhou",
    )
    with (
        mock.patch.object(Utils, "get_date_utcstring", staticmethod(lambda: FIXED_RFC_DATE)),
        mock.patch.object(Utils, "get_nonce", staticmethod(lambda: "nonce-1")),
        mock.patch.object(DaraCore, "do_action", staticmethod(fake_do_action)),
    ):
        with pytest.raises(Exception):  # noqa: B017 - the SDK wraps our sentinel
            call(WebPlusClient(config), util_models.RuntimeOptions())
    return captured["request"]


def sign_the_sdk_request_ourselves(sdk_request, credentials: Credentials):
    """Our signer on the SDK's request as it would go on the wire (URL, body, headers)."""
    headers = {k: v for k, v in sdk_request.headers.items() if k.lower() != "authorization"}
    query = urlencode(sorted(sdk_request.query.items())) if sdk_request.query else ""
    url = f"http://{headers['host']}{sdk_request.pathname}" + (f"?{query}" if query else "")
    return sign(fixed_roa_auth(credentials), sdk_request.method, url, sdk_request.body, headers)


def tea_string_to_sign_of(prepared: requests.PreparedRequest) -> str:
    """tea's own ``get_string_to_sign`` applied to one of our requests, as it was sent."""
    from alibabacloud_tea_openapi.utils import Utils

    parts = urlsplit(prepared.url)
    view = SimpleNamespace(
        method=prepared.method,
        pathname=parts.path,
        query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        headers={k.lower(): v for k, v in prepared.headers.items()},
    )
    return Utils.get_string_to_sign(view)


def our_string_to_sign(prepared: requests.PreparedRequest) -> str:
    return roa_request_string_to_sign(prepared.method, prepared.url, prepared.headers)


WITH_AND_WITHOUT_STS = pytest.mark.parametrize(
    "credentials",
    [Credentials(KEY_ID, SECRET), Credentials(KEY_ID, SECRET, TOKEN)],
    ids=["access-key", "sts"],
)


@WITH_AND_WITHOUT_STS
def test_webplus_get_with_awkward_query_is_signed_exactly_as_the_webplus_sdk_signs_it(credentials):
    from alibabacloud_tea_openapi.utils import Utils
    from alibabacloud_webplus20190320 import models

    request = models.DescribeChangeRequest(
        env_id=AWKWARD, change_id="wc-1 /*~é", region_id="cn-hangzhou"
    )
    sdk = capture_webplus_request(
        credentials, lambda c, rt: c.describe_change_with_options(request, {}, rt)
    )
    ours = sign_the_sdk_request_ourselves(sdk, credentials)

    assert sdk.headers["authorization"].startswith(f"acs {KEY_ID}:")
    assert ours.headers["Authorization"] == sdk.headers["authorization"]
    assert our_string_to_sign(ours) == Utils.get_string_to_sign(sdk)
    assert "Content-MD5" not in ours.headers  # no body, no digest (tea sends none either)
    # every header the SDK signs (all x-acs-*, date, accept) we set to the same value
    for name in ("date", "x-acs-signature-nonce", "x-acs-signature-method"):
        assert ours.headers[name] == sdk.headers[name]
    assert ("x-acs-security-token" in ours.headers) == bool(credentials.security_token)
    if credentials.security_token:
        assert ours.headers["x-acs-security-token"] == sdk.headers["x-acs-security-token"]
        assert ours.headers["x-acs-accesskey-id"] == sdk.headers["x-acs-accesskey-id"]


@WITH_AND_WITHOUT_STS
def test_webplus_form_post_is_signed_exactly_as_the_webplus_sdk_signs_it(credentials):
    """RestartAppEnv: form body (with escapes), RegionId in the query of the POST, a bool.

    tea sends no Content-MD5; we do (see AcsRoaSha1Auth). Given ours as an extra header (its
    ``headers`` argument), the SDK signs exactly what we sign."""
    from alibabacloud_tea_openapi.utils import Utils
    from alibabacloud_webplus20190320 import models

    request = models.RestartAppEnvRequest(
        env_id=AWKWARD, batch_size=2, pause_between_batches=True, region_id="cn-hangzhou"
    )
    plain = capture_webplus_request(
        credentials, lambda c, rt: c.restart_app_env_with_options(request, {}, rt)
    )
    md5 = {"content-md5": content_md5(plain.body.encode("utf-8"))}
    sdk = capture_webplus_request(
        credentials, lambda c, rt: c.restart_app_env_with_options(request, md5, rt)
    )
    ours = sign_the_sdk_request_ourselves(sdk, credentials)

    assert "EnvId=we+1%26%3D%2F%C3%A9%2A~%2B%25" in sdk.body
    assert "PauseBetweenBatches=True" in sdk.body
    assert sdk.query == {"RegionId": "cn-hangzhou"}
    assert ours.headers["Content-MD5"] == md5["content-md5"]
    assert ours.headers["Authorization"] == sdk.headers["authorization"]
    assert our_string_to_sign(ours) == Utils.get_string_to_sign(sdk)
    assert our_string_to_sign(ours).endswith("\n/pop/v1/wam/appEnv/restart?RegionId=cn-hangzhou")


def capture_legacy_request(credentials: Credentials, request):
    """Sign ``request`` (an aliyun-python-sdk-webplus RoaRequest) with aliyun-python-sdk-core,
    its date fixed, and return (method, url, headers, body) without sending it."""
    from aliyunsdkcore.auth.credentials import AccessKeyCredential, StsTokenCredential
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkcore.utils import parameter_helper

    credential = (
        StsTokenCredential(KEY_ID, SECRET, credentials.security_token)
        if credentials.security_token
        else AccessKeyCredential(KEY_ID, SECRET)
    )
    # the extra x-acs-* headers ours sends and the legacy core does not; it signs them too
    request.add_header("x-acs-signature-nonce", "nonce-1")
    if credentials.security_token:
        request.add_header("x-acs-accesskey-id", KEY_ID)
    request.set_accept_format("JSON")  # what do_action_with_exception forces
    client = AcsClient(region_id="cn-hangzhou", credential=credential)
    with mock.patch.object(parameter_helper, "get_rfc_2616_date", lambda: FIXED_RFC_DATE):
        response = client._make_http_response("127.0.0.1:8080", request, 5, 5)
    return response.get_method(), response.get_url(), response.get_headers(), response.get_body()


@WITH_AND_WITHOUT_STS
def test_webplus_form_post_is_signed_exactly_as_the_legacy_core_signs_it(credentials):
    from aliyunsdkwebplus.request.v20190320.RestartAppEnvRequest import RestartAppEnvRequest

    legacy = RestartAppEnvRequest()
    legacy.set_EnvId(AWKWARD)
    legacy.add_body_params("BatchSize", 2)
    legacy.add_body_params("PauseBetweenBatches", True)
    method, path, headers, body = capture_legacy_request(credentials, legacy)
    headers = {k: v for k, v in headers.items() if k != "Authorization"}
    ours = sign(fixed_roa_auth(credentials), method, f"http://127.0.0.1:8080{path}", body, headers)

    assert "Content-MD5" in headers
    assert ours.headers["Content-MD5"] == headers["Content-MD5"]
    assert our_string_to_sign(ours) == legacy.string_to_sign
    assert ours.headers["Authorization"] == legacy.get_headers()["Authorization"]


@WITH_AND_WITHOUT_STS
def test_webplus_get_with_awkward_query_is_signed_exactly_as_the_legacy_core_signs_it(credentials):
    from aliyunsdkwebplus.request.v20190320.DescribeChangeRequest import DescribeChangeRequest

    legacy = DescribeChangeRequest()
    legacy.set_ChangeId("wc-1 /*~é")
    legacy.add_query_param("EnvId", AWKWARD)
    method, path, headers, body = capture_legacy_request(credentials, legacy)
    headers = {k: v for k, v in headers.items() if k != "Authorization"}
    ours = sign(fixed_roa_auth(credentials), method, f"http://127.0.0.1:8080{path}", body, headers)

    assert our_string_to_sign(ours) == legacy.string_to_sign
    assert f"EnvId={AWKWARD}" in legacy.string_to_sign  # raw in the resource
    assert ours.headers["Authorization"] == legacy.get_headers()["Authorization"]


@WITH_AND_WITHOUT_STS
def test_what_our_transport_sends_is_what_tea_would_sign(credentials):
    """Our own request (our headers only, as the transport builds it) checked by tea's rules."""
    from alibabacloud_tea_openapi.utils import Utils

    headers = {
        "x-acs-action": "RestartAppEnv",
        "x-acs-version": "2019-03-20",
        "accept": "application/json",
        "content-type": "application/x-www-form-urlencoded",
        "user-agent": "not-signed",
    }
    url = "http://127.0.0.1:8080/pop/v1/wam/appEnv/restart?" + urlencode({"RegionId": AWKWARD})
    body = urlencode(sorted({"EnvId": AWKWARD, "PauseBetweenBatches": "False"}.items()))
    ours = sign(fixed_roa_auth(credentials), "POST", url, body, headers)

    expected = Utils.get_roasignature(tea_string_to_sign_of(ours), SECRET)
    assert ours.headers["Authorization"] == f"acs {KEY_ID}:{expected}"
    assert ours.headers["Content-MD5"] == content_md5(ours.body)
    assert ours.headers["Date"] == FIXED_RFC_DATE
    assert ours.headers["x-acs-signature-method"] == "HMAC-SHA1"
    assert ours.headers["x-acs-signature-version"] == "1.0"
    assert ours.headers["x-acs-signature-nonce"] == "nonce-1"


# --- the ROA steps --------------------------------------------------------------------------


def test_canonical_resource_is_the_path_and_the_sorted_raw_query():
    pairs = [("b", "x y&=/é*~"), ("A", "1"), ("a", "2")]
    assert canonical_resource("/p", pairs) == "/p?A=1&a=2&b=x y&=/é*~"
    assert canonical_resource("/p", []) == "/p"
    assert canonical_resource("/p", [("k", ""), ("j", "v")]) == "/p?j=v&k"  # as tea writes it


def test_roa_canonical_headers_take_every_x_acs_header_lowercased_sorted_untrimmed():
    lines = roa_canonical_headers(
        {"X-Acs-B": " two ", "x-acs-a": "one", "Date": "d", "x-sdk-client": "no"}
    )
    assert lines == "x-acs-a:one\nx-acs-b: two \n"


def test_rfc2616_date_is_english_gmt_whatever_the_clock_zone():
    beijing = timezone(timedelta(hours=8))
    assert rfc2616_date(datetime(2024, 1, 2, 11, 4, 5, 999, tzinfo=beijing)) == FIXED_RFC_DATE


def test_content_md5_is_sent_only_with_a_body():
    creds = Credentials(KEY_ID, SECRET)
    with_body = sign(fixed_roa_auth(creds), "POST", "https://h.example/p", body="EnvId=é")
    assert with_body.body == "EnvId=é".encode()
    assert with_body.headers["Content-MD5"] == content_md5("EnvId=é".encode())
    assert with_body.headers["Content-Length"] == str(len(with_body.body))
    stale = {"Content-MD5": "stale"}
    without = sign(fixed_roa_auth(creds), "GET", "https://h.example/p", headers=stale)
    assert "Content-MD5" not in without.headers


def test_every_roa_signing_gets_a_fresh_nonce_and_the_current_date():
    dates = iter([FIXED_DATE, FIXED_DATE + timedelta(seconds=7)])
    auth = AcsRoaSha1Auth(Credentials(KEY_ID, SECRET), clock=lambda: next(dates))
    first = sign(auth, "GET", "https://h.example/p")
    second = sign(auth, "GET", "https://h.example/p")
    assert first.headers["x-acs-signature-nonce"] != second.headers["x-acs-signature-nonce"]
    assert first.headers["Date"] == FIXED_RFC_DATE
    assert second.headers["Date"] == "Tue, 02 Jan 2024 03:04:12 GMT"
    assert first.headers["Authorization"] != second.headers["Authorization"]


def test_roa_sts_headers_are_absent_without_a_token_and_the_secret_never_shows():
    auth = fixed_roa_auth(Credentials(KEY_ID, SECRET))
    stale = {"x-acs-security-token": "old", "x-acs-accesskey-id": "old"}
    prepared = sign(auth, "GET", "https://h.example/", headers=stale)
    assert "x-acs-security-token" not in prepared.headers
    assert "x-acs-accesskey-id" not in prepared.headers
    with_token = fixed_roa_auth(Credentials(KEY_ID, SECRET, TOKEN))
    signed = sign(with_token, "GET", "https://h.example/")
    assert SECRET not in str(dict(signed.headers))
    assert SECRET not in repr(with_token) and TOKEN not in repr(with_token)


def test_roa_signer_refuses_streaming_bodies():
    prepared = requests.Request("POST", "https://h.example/", data=iter([b"a"])).prepare()
    with pytest.raises(TypeError, match="in-memory"):
        fixed_roa_auth(Credentials(KEY_ID, SECRET))(prepared)


# --- credentials providers: the key pair is asked for at every request -----------------------


class RotatingProvider:
    """A credentials provider whose key pair changes between requests."""

    source = "test rotating provider"

    def __init__(self) -> None:
        self.issued = [Credentials("STS.first-key", "first-secret", "first-token")]
        self.prepared: list[object] = []

    def current(self, deadline=None):
        if deadline is not None:
            self.prepared.append(deadline)
        return self.issued[-1]

    def secrets(self):
        return tuple(s for c in self.issued for s in (c.access_key_secret, c.security_token))


@pytest.mark.parametrize("signer", [AcsV3Auth, AcsRoaSha1Auth])
def test_signers_sign_each_request_with_the_providers_current_credentials(signer):
    provider = RotatingProvider()
    auth = signer(provider, clock=lambda: FIXED_DATE, nonce=lambda: "nonce-1")
    first = sign(auth, "GET", "https://edas.cn-hangzhou.aliyuncs.com/pop/v5/x")
    provider.issued.append(Credentials("STS.second-key", "second-secret", "second-token"))
    second = sign(auth, "GET", "https://edas.cn-hangzhou.aliyuncs.com/pop/v5/x")
    assert first.headers["x-acs-accesskey-id"] == "STS.first-key"
    assert second.headers["x-acs-accesskey-id"] == "STS.second-key"
    assert second.headers["x-acs-security-token"] == "second-token"
    assert "second-key" in second.headers["Authorization"]
    auth.prepare("a deadline")
    assert provider.prepared == ["a deadline"]
    assert repr(auth) == f"{signer.__name__}(credentials={provider!r})"
    assert "secret" not in repr(auth)


# --- the RPC signature (STS), against two independent implementations -----------------------------


def test_rpc_string_to_sign_matches_aliyun_sdk_core_including_spaces_and_reserved_chars():
    params = {
        "Action": "AssumeRole",
        "RoleArn": ROLE_ARN,
        "Policy": '{"Statement": [{"Action": "*", "Effect": "Allow"}], "Version": "1"}',
        "RoleSessionName": "a~b_c.d-e@f",
        "Timestamp": "2024-01-02T03:04:05Z",
    }
    assert rpc_string_to_sign("POST", params) == sdk_core_string_to_sign("POST", params)


def test_rpc_signature_matches_alibabacloud_credentials():
    ph = pytest.importorskip("alibabacloud_credentials.utils.parameter_helper")
    params = {"Action": "AssumeRole", "RoleArn": ROLE_ARN, "Timestamp": "2024-01-02T03:04:05Z"}
    to_sign = ph.compose_string_to_sign("POST", params)  # no spaces: it encodes them as '+'
    assert to_sign == rpc_string_to_sign("POST", params)
    assert ph.sign_string(to_sign, BASE_SECRET + "&") == rpc_signature(BASE_SECRET, to_sign)
