"""Requests captured from the official SDKs, replayed to the emulator intact and mutated.

Each mutation must be rejected with the documented code, for every signature flavour.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from testbed.emulator import TEST_APP_ID, TEST_ENV_ID

pytestmark = pytest.mark.sdk

FLAVOURS = ("roa", "tea-v2", "v3")


def _flip_last(text: str) -> str:
    """Change the last character, keeping it printable and of the same kind."""
    last = text[-1]
    replacement = {"0": "1", "9": "8", "=": "A", "z": "y", "Z": "Y"}.get(last)
    if replacement is None:
        replacement = "0" if not last.isdigit() else "1"
        if replacement == last:
            replacement = "a"
    return text[:-1] + replacement


@pytest.fixture
def read_request(capture_server):
    """Factory: the ListRecentChangeOrder request an SDK sends (query-only, read-only)."""

    def make(flavour: str, creds=None):
        kwargs = {"AppId": TEST_APP_ID}
        if creds is None:
            return capture_server.capture(flavour, "ListRecentChangeOrder", **kwargs)
        return capture_server.capture(flavour, "ListRecentChangeOrder", creds, **kwargs)

    return make


@pytest.fixture
def body_request(capture_server):
    """Factory: a request with a form body, and the body ``Code`` of its success.

    For the HMAC-SHA1 schemes it is the RestartAppEnv request the Web+ SDK sends. V3 is
    EDAS-only and no EDAS operation has a body, so for V3 it is a RestartApplication that
    carries a form body the operation does not read: the body hash protects it all the same.
    """

    def make(flavour: str):
        if flavour == "v3":
            captured = capture_server.capture_raw(
                "v3",
                "POST",
                "/pop/v5/changeorder/co_restart",
                "RestartApplication",
                "2017-08-01",
                query={"AppId": TEST_APP_ID},
                form={"BatchSize": "1"},
            )
            return captured, 200
        captured = capture_server.capture(flavour, "RestartAppEnv", EnvId=TEST_ENV_ID, BatchSize=1)
        return captured, "OK"

    return make


def _code(reply) -> tuple[int, str | int]:
    status, _, body = reply
    return status, body["Code"]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_intact_replay_is_accepted(emulator, read_request, body_request, flavour):
    assert _code(read_request(flavour).send(emulator.host)) == (200, 200)
    captured, ok = body_request(flavour)
    status, headers, body = captured.send(emulator.host)
    assert (status, body["Code"]) == (200, ok)
    assert headers["x-acs-request-id"] == body["RequestId"]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_changed_signed_header_is_rejected(emulator, read_request, flavour):
    captured = read_request(flavour)
    # A signed x-acs-* header that only the signature covers (the legacy core sends no nonce).
    name = "x-acs-region-id" if flavour == "roa" else "x-acs-signature-nonce"
    tampered = captured.with_header(name, _flip_last(captured.header(name)))
    assert _code(tampered.send(emulator.host)) == (400, "SignatureDoesNotMatch")


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_changed_version_or_action_is_refused_before_the_signature(emulator, read_request, flavour):
    # The gateway finds the API by version (and action) before it checks who signed.
    captured = read_request(flavour)
    wrong_version = captured.with_header("x-acs-version", "2019-03-20")
    assert _code(wrong_version.send(emulator.host)) == (400, "InvalidVersion")
    status, _, body = captured.without_header("x-acs-version").send(emulator.host)
    assert (status, body["Code"]) == (400, "MissingParameter")
    assert '"Version"' in body["Message"]
    other_action = captured.with_header("x-acs-action", "RestartApplication")
    assert _code(other_action.send(emulator.host)) == (404, "InvalidAction.NotFound")
    assert emulator.state()["edas_change_orders"] == []


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_added_acs_header_is_rejected(emulator, read_request, flavour):
    captured = read_request(flavour)
    tampered = type(captured)(
        captured.method, captured.target, (*captured.headers, ("x-acs-extra", "1")), captured.body
    )
    expected = "IncompleteSignature" if flavour == "v3" else "SignatureDoesNotMatch"
    assert _code(tampered.send(emulator.host)) == (400, expected)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_changed_query_value_is_rejected(emulator, read_request, flavour):
    captured = read_request(flavour)
    assert TEST_APP_ID in captured.target
    tampered = captured.with_target(captured.target.replace(TEST_APP_ID, _flip_last(TEST_APP_ID)))
    assert _code(tampered.send(emulator.host)) == (400, "SignatureDoesNotMatch")


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_changed_signature_is_rejected(emulator, read_request, flavour):
    captured = read_request(flavour)
    auth = captured.header("Authorization")
    tampered = captured.with_header("Authorization", _flip_last(auth))
    status, _, body = tampered.send(emulator.host)
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")
    assert "server string to sign is:" in body["Message"]


@pytest.mark.parametrize(
    ("flavour", "expected"),
    [
        ("roa", (400, "ContentMD5NotMatched")),
        ("v3", (400, "ContentSHA256NotMatched")),
        # The tea v2 flavour sends no Content-MD5: its body is not covered by the signature,
        # exactly as on the real gateway. The emulator must not invent a check here.
        ("tea-v2", (200, "OK")),
    ],
)
def test_changed_body(emulator, body_request, flavour, expected):
    captured, _ = body_request(flavour)
    assert b"BatchSize=1" in captured.body
    tampered = captured.with_body(captured.body.replace(b"BatchSize=1", b"BatchSize=2"))
    assert _code(tampered.send(emulator.host)) == expected


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_wrong_secret_is_rejected_with_server_string_to_sign(
    emulator, read_request, wrong_creds, flavour
):
    captured = read_request(flavour, wrong_creds["wrong_secret"])
    status, headers, body = captured.send(emulator.host)
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")
    message = body["Message"]
    assert message.startswith("Specified signature is not matched with our calculation.")
    server_sts = message.split("server string to sign is:", 1)[1]
    if flavour == "v3":
        assert server_sts.startswith("ACS3-HMAC-SHA256\n")
    else:
        assert server_sts.startswith("POST\napplication/json\n")
        assert server_sts.endswith(
            f"/pop/v5/changeorder/change_order_list?AppId={TEST_APP_ID}"
            + ("&RegionId=cn-hangzhou" if flavour == "roa" else "")
        )
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert headers["x-acs-request-id"] == body["RequestId"]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_unknown_key_is_not_found(emulator, read_request, wrong_creds, flavour):
    captured = read_request(flavour, wrong_creds["unknown_key"])
    assert _code(captured.send(emulator.host)) == (404, "InvalidAccessKeyId.NotFound")


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_nonce_reuse(emulator, read_request, flavour):
    captured = read_request(flavour)
    assert _code(captured.send(emulator.host)) == (200, 200)
    if flavour == "roa":
        # aliyun-python-sdk-core sends no nonce, so the gateway cannot detect a replay.
        assert captured.header("x-acs-signature-nonce") is None
        assert _code(captured.send(emulator.host)) == (200, 200)
    else:
        assert _code(captured.send(emulator.host)) == (400, "SignatureNonceUsed")


def _patch_clock(monkeypatch, flavour: str, when: datetime) -> None:
    """Make the SDK sign with ``when`` as its current time."""
    if flavour == "roa":
        import aliyunsdkcore.utils.parameter_helper as helper

        rfc = when.strftime("%a, %d %b %Y %H:%M:%S GMT")
        monkeypatch.setattr(helper, "get_rfc_2616_date", lambda: rfc)
    else:
        from alibabacloud_tea_openapi.utils import Utils

        rfc = when.strftime("%a, %d %b %Y %H:%M:%S GMT")
        iso = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        monkeypatch.setattr(Utils, "get_date_utcstring", staticmethod(lambda: rfc))
        monkeypatch.setattr(Utils, "get_timestamp", staticmethod(lambda: iso))


@pytest.mark.parametrize(
    ("offset_min", "accepted"), [(-16, False), (16, False), (-14, True), (14, True)]
)
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_clock_skew_limit_is_15_minutes(
    emulator, read_request, monkeypatch, flavour, offset_min, accepted
):
    _patch_clock(monkeypatch, flavour, datetime.now(UTC) + timedelta(minutes=offset_min))
    captured = read_request(flavour)
    expected = (200, 200) if accepted else (400, "InvalidTimeStamp.Expired")
    assert _code(captured.send(emulator.host)) == expected


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_changed_date_is_rejected(emulator, read_request, flavour):
    captured = read_request(flavour)
    name = "x-acs-date" if flavour == "v3" else "Date"
    original = captured.header(name)
    # One second later: within the skew window, so only the signature can catch it.
    if flavour == "v3":
        when = datetime.strptime(original, "%Y-%m-%dT%H:%M:%SZ") + timedelta(seconds=1)
        later = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    else:
        when = datetime.strptime(original, "%a, %d %b %Y %H:%M:%S GMT") + timedelta(seconds=1)
        later = when.strftime("%a, %d %b %Y %H:%M:%S GMT")
    tampered = captured.with_header(name, later)
    assert _code(tampered.send(emulator.host)) == (400, "SignatureDoesNotMatch")


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_sts_token_tampering(emulator, read_request, creds_named, flavour):
    captured = read_request(flavour, creds_named["sts"])
    token = captured.header("x-acs-security-token")
    assert token
    bad_token = captured.with_header("x-acs-security-token", _flip_last(token))
    assert _code(bad_token.send(emulator.host)) == (
        400,
        "InvalidSecurityToken.MismatchWithAccessKey",
    )
    no_token = captured.without_header("x-acs-security-token")
    assert _code(no_token.send(emulator.host)) == (400, "MissingSecurityToken")
    assert _code(captured.send(emulator.host)) == (200, 200)


def test_v3_host_is_signed_with_its_port(emulator, read_request):
    captured = read_request("v3")
    host = captured.header("Host")
    assert ":" in host
    other_port = captured.with_header("Host", host.rsplit(":", 1)[0] + ":1")
    assert _code(other_port.send(emulator.host)) == (400, "SignatureDoesNotMatch")


def test_v3_signed_headers_must_cover_host_and_acs_headers(emulator, read_request):
    captured = read_request("v3")
    auth = captured.header("Authorization")
    shrunk = auth.replace("SignedHeaders=accept;host;", "SignedHeaders=accept;")
    assert shrunk != auth
    tampered = captured.with_header("Authorization", shrunk)
    assert _code(tampered.send(emulator.host)) == (400, "IncompleteSignature")


def test_v3_content_sha256_header_must_match_body(emulator, read_request):
    captured = read_request("v3")
    digest = captured.header("x-acs-content-sha256")
    tampered = captured.with_header("x-acs-content-sha256", _flip_last(digest))
    assert _code(tampered.send(emulator.host)) == (400, "ContentSHA256NotMatched")


def test_roa_content_md5_header_must_match_body(emulator, body_request):
    captured, _ = body_request("roa")
    md5 = captured.header("Content-MD5")
    assert md5
    tampered = captured.with_header("Content-MD5", "AAAA" + md5[4:])
    assert _code(tampered.send(emulator.host)) == (400, "ContentMD5NotMatched")


def test_missing_authorization_is_incomplete_signature(emulator, read_request):
    captured = read_request("v3").without_header("Authorization")
    assert _code(captured.send(emulator.host)) == (400, "IncompleteSignature")
