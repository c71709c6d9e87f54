"""Typed errors: which class a code/status maps to, and that secrets never leak through str()."""

from __future__ import annotations

import pytest

from restart_trigger.aliyun import (
    AliyunError,
    AuthError,
    BusinessError,
    NotFoundError,
    RestartOutcomeUnknown,
    ServerError,
    ThrottlingError,
)
from restart_trigger.aliyun.errors import (
    business_error_from_body,
    error_class_for,
    error_code_of,
    error_from_response,
    parse_error_body,
    scrub,
)

SECRET = "test-secret-value-0123456789"
TOKEN = "test-sts-token-abcdefghijklmnop"


@pytest.mark.parametrize(
    ("code", "status", "cls"),
    [
        ("SignatureDoesNotMatch", 400, AuthError),
        ("IncompleteSignature", 400, AuthError),
        ("InvalidAccessKeyId.NotFound", 404, AuthError),
        ("InvalidAccessKeyId.Inactive", 400, AuthError),
        ("InvalidTimeStamp.Expired", 400, AuthError),
        ("InvalidTimeStamp.Format", 400, AuthError),
        ("SignatureNonceUsed", 400, AuthError),
        ("InvalidSecurityToken.Expired", 400, AuthError),
        ("MissingSecurityToken", 400, AuthError),
        ("ContentMD5NotMatched", 400, AuthError),
        ("Forbidden.RAM", 403, AuthError),
        ("Anything", 401, AuthError),
        ("Throttling", 400, ThrottlingError),
        ("Throttling.User", 400, ThrottlingError),
        ("Throttling.Api", 429, ThrottlingError),
        ("TooMany", 429, ThrottlingError),
        ("InternalError", 500, ServerError),
        ("ServiceUnavailable", 503, ServerError),
        ("Whatever", 502, ServerError),
        ("UnknownError", 400, ServerError),
        ("ResourceAuthFailed", 403, NotFoundError),
        ("ChangeNotExists", 404, NotFoundError),
        ("InvalidApplication.NotFound", 400, NotFoundError),
        ("Gone", 404, NotFoundError),
        ("EnvOnChanging", 400, BusinessError),
        ("StatusNotAllowedRestart", 403, BusinessError),
        ("InvalidParameter", 400, BusinessError),
    ],
)
def test_codes_and_statuses_map_to_error_classes(code, status, cls):
    assert error_class_for(code, status) is cls


def test_every_error_is_an_aliyun_error_with_the_documented_fields():
    err = error_from_response(
        400,
        {
            "RequestId": "req-1",
            "HostId": "edas.cn-hangzhou.aliyuncs.com",
            "Code": "EnvOnChanging",
            "Message": "wait",
            "Recommend": "https://example.invalid/troubleshoot?q=EnvOnChanging",
        },
        {},
        operation="RestartAppEnv",
    )
    assert isinstance(err, AliyunError)
    assert (err.http_status, err.code, err.message, err.request_id) == (
        400,
        "EnvOnChanging",
        "wait",
        "req-1",
    )
    assert err.host_id == "edas.cn-hangzhou.aliyuncs.com"
    assert err.recommend.endswith("q=EnvOnChanging")
    assert str(err) == "RestartAppEnv: EnvOnChanging: wait (HTTP 400, request id req-1)"


def test_a_positive_retry_after_header_makes_an_error_throttling_with_seconds():
    err = error_from_response(503, {"Code": "ServiceUnavailable"}, {"x-acs-retry-after": "1500"})
    assert isinstance(err, ThrottlingError)
    assert err.retry_after == 1.5


@pytest.mark.parametrize("value", ["0", "-3", "soon", ""])
def test_non_positive_or_garbled_retry_after_is_ignored(value):
    err = error_from_response(503, {"Code": "ServiceUnavailable"}, {"x-acs-retry-after": value})
    assert type(err) is ServerError
    assert err.retry_after is None


def test_error_without_a_body_still_has_a_code_and_message():
    err = error_from_response(502, {}, {}, fallback_message="HTTP 502 Bad Gateway")
    assert isinstance(err, ServerError)
    assert err.code == "HTTP502"
    assert "Bad Gateway" in str(err)


def test_edas_http_200_with_a_numeric_body_code_is_a_business_error():
    err = business_error_from_body(
        200, {"Code": 500, "Message": "app is changing", "RequestId": "r"}, operation="X"
    )
    assert type(err) is BusinessError
    assert (err.http_status, err.code, err.request_id) == (200, "500", "r")


def test_textual_body_codes_on_http_200_are_classified_like_http_errors():
    err = business_error_from_body(200, {"Code": "Throttling.User", "Message": "slow down"})
    assert isinstance(err, ThrottlingError)


def test_signature_mismatch_echoing_the_canonical_request_cannot_leak_token_or_secret():
    echoed = (
        "The request signature does not conform to Aliyun standards. server StringToSign is "
        "[ACS3-HMAC-SHA256\nabc] server CanonicalRequest is [GET\n/\n\nhost:h\n"
        f"x-acs-security-token:{TOKEN}\nx-acs-date:2024-01-02T03:04:05Z\n] "
        f"and by the way the secret {SECRET} and encoded test-secret-value-0123456789"
    )
    err = error_from_response(
        400,
        {"Code": "SignatureDoesNotMatch", "Message": echoed, "RequestId": "r"},
        {},
        secrets=(SECRET, TOKEN),
    )
    for text in (str(err), repr(err), err.message, str(err.args)):
        assert SECRET not in text
        assert TOKEN not in text
    assert isinstance(err, AuthError)
    assert "x-acs-security-token:***" in err.message


def test_an_echoed_token_is_scrubbed_even_when_the_caller_did_not_say_which_token():
    text = scrub(f"[host:h\nx-acs-security-token:{TOKEN}\nx-acs-version:1]")
    assert TOKEN not in text


def test_percent_encoded_secrets_are_scrubbed_too():
    secret = "a/b+c=d secret"
    assert "a%2Fb%2Bc%3Dd%20secret" not in scrub("x a%2Fb%2Bc%3Dd%20secret y", [secret])


def test_restart_outcome_unknown_names_the_target():
    err = RestartOutcomeUnknown("EDAS application app-1", "could not tell", operation="Restart")
    assert err.target == "EDAS application app-1"
    assert err.code == "RestartOutcomeUnknown"
    assert "could not tell" in str(err)


def test_json_and_xml_error_bodies_are_both_read():
    assert parse_error_body(b'{"Code":"X","Message":"m"}', "application/json")["Code"] == "X"
    xml = b"<Error><Code>Throttling</Code><Message>m</Message><RequestId>r</RequestId></Error>"
    assert parse_error_body(xml, "text/xml;charset=utf-8") == {
        "Code": "Throttling",
        "Message": "m",
        "RequestId": "r",
    }
    assert parse_error_body(b"<html>oops", "text/html") == {}
    assert parse_error_body(b"not json", None) == {}


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
