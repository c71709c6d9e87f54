"""The wire of temporary credentials: STS ``AssumeRole`` / ``AssumeRoleWithOIDC`` and the ECS
instance metadata service. One function per exchange, each one HTTP attempt; retries and
caching are the caller's (``sources``).

* **STS** (RPC, version 2015-04-01) is spoken over HTTPS only (as terraform-provider-alicloud
  and alibabacloud-credentials do: "sts endpoint only supports https"): ``POST /`` with every
  parameter in an url-encoded form body, so neither a security token nor an OIDC token is ever
  part of a URL (which ``requests`` and urllib3 put into exception texts and debug logs).
  ``AssumeRole`` is signed RPC HMAC-SHA1 (``auth.sign_rpc``) with the base credentials;
  ``AssumeRoleWithOIDC`` is anonymous (the OIDC token is the proof), as the API defines it.
  The TLS trust is the ``requests`` one: ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` or
  certifi's bundle; proxies come from the environment.
* **Instance metadata** (``http://100.100.100.200`` on ECS) is read in the hardened,
  token-based way: ``PUT /latest/api/token`` (``X-aliyun-ecs-metadata-token-ttl-seconds``)
  first, then ``GET /latest/meta-data/ram/security-credentials/<role>`` with
  ``X-aliyun-ecs-metadata-token``. Never through a proxy.

Every error is an ``AliyunError`` whose text is scrubbed of the secrets involved.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import requests

from .. import __version__
from .auth import DATE_FORMAT, SigningCredentials, _new_nonce, sign_rpc
from .errors import (
    AliyunError,
    InvalidResponseError,
    TransportError,
    error_from_response,
    json_answer,
    scrub,
)
from .transport import request_was_not_sent

STS_VERSION = "2015-04-01"
METADATA_ENDPOINT = "http://100.100.100.200"
"""The ECS instance metadata service."""
METADATA_TOKEN_PATH = "/latest/api/token"
METADATA_CREDENTIALS_PATH = "/latest/meta-data/ram/security-credentials/"
METADATA_TOKEN_TTL = 21600
"""Seconds the metadata token is asked to live (its maximum; one is fetched per refresh)."""

STS_TIMEOUT = (5.0, 10.0)
"""(connect, read) seconds of one STS attempt (alibabacloud-credentials' defaults)."""
METADATA_TIMEOUT = (1.0, 2.0)
"""(connect, read) seconds of one metadata attempt: the service is on the instance's link."""

_NO_PROXY: dict[str, None] = {"http": None, "https": None, "all": None}


@dataclass(frozen=True, repr=False)
class Issued:
    """Temporary credentials as issued: the key pair, the token and when they expire."""

    access_key_id: str
    access_key_secret: str
    security_token: str
    expiration: float
    """Epoch seconds."""

    def __repr__(self) -> str:
        return f"Issued(access_key_id='****', expiration={self.expiration!r})"


def _user_agent() -> str:
    return f"restart-trigger/{__version__} python-requests/{requests.__version__}"


def parse_expiration(value: Any) -> float:
    """``2024-01-02T03:04:05Z`` (STS, metadata) as epoch seconds."""
    if not isinstance(value, str):
        raise ValueError(f"Expiration is not a timestamp string: {type(value).__name__}")
    text = value.strip()
    for pattern in (DATE_FORMAT, "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            return float(calendar.timegm(time.strptime(text, pattern)))
        except ValueError:
            continue
    raise ValueError(f"Expiration {text!r} is not of the form 2024-01-02T03:04:05Z")


def _issued(data: Mapping[str, Any], operation: str, request_id: Any) -> Issued:
    try:
        issued = Issued(
            str(data["AccessKeyId"]),
            str(data["AccessKeySecret"]),
            str(data["SecurityToken"]),
            parse_expiration(data.get("Expiration")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        detail = exc.args[0] if isinstance(exc, KeyError) else str(exc)
        raise InvalidResponseError(
            200,
            "InvalidResponse",
            f"the answer's credentials are incomplete ({detail})",
            request_id,
            operation=operation,
        ) from None
    if not (issued.access_key_id and issued.access_key_secret and issued.security_token):
        raise InvalidResponseError(
            200,
            "InvalidResponse",
            "the answer's credentials are empty",
            request_id,
            operation=operation,
        )
    return issued


def _transport_error(operation: str, exc: requests.RequestException, secrets: Iterable[str]):
    detail = scrub(f"{type(exc).__name__}: {exc}", secrets)
    not_sent = request_was_not_sent(exc)
    return TransportError(
        "ConnectionNotEstablished" if not_sent else "NoResponse",
        detail,
        sent=not not_sent,
        operation=operation,
    )


def _json_or_error(
    response: requests.Response, operation: str, secrets: Iterable[str]
) -> dict[str, Any]:
    return json_answer(
        response.status_code,
        response.reason or "",
        response.headers,
        response.content or b"",
        operation=operation,
        secrets=tuple(secrets),
    )


def _sts_call(
    session: requests.Session,
    endpoint: str,
    form: Mapping[str, str],
    operation: str,
    secrets: Iterable[str],
    timeout: tuple[float, float],
) -> Issued:
    secrets = tuple(secrets)
    try:
        response = session.post(
            endpoint + "/",
            data=urlencode(sorted(form.items())).encode("utf-8"),
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "accept": "application/json",
                "user-agent": _user_agent(),
            },
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise _transport_error(operation, exc, secrets) from None
    data = _json_or_error(response, operation, secrets)
    creds = data.get("Credentials")
    if not isinstance(creds, Mapping):
        raise InvalidResponseError(
            response.status_code,
            "InvalidResponse",
            "the answer has no Credentials",
            data.get("RequestId"),
            operation=operation,
        )
    return _issued(creds, operation, data.get("RequestId"))


def _common(action: str, duration: int, role_arn: str, session_name: str, policy: str | None):
    form = {
        "Action": action,
        "Version": STS_VERSION,
        "Format": "JSON",
        "RoleArn": role_arn,
        "RoleSessionName": session_name,
        "DurationSeconds": str(int(duration)),
    }
    if policy:
        form["Policy"] = policy
    return form


def assume_role(
    session: requests.Session,
    endpoint: str,
    base: SigningCredentials,
    *,
    role_arn: str,
    session_name: str,
    duration: int,
    policy: str | None = None,
    external_id: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    nonce: Callable[[], str] = _new_nonce,
    timeout: tuple[float, float] = STS_TIMEOUT,
) -> Issued:
    """One ``AssumeRole`` call to ``endpoint`` (``https://host[:port]``), signed with ``base``."""
    form = _common("AssumeRole", duration, role_arn, session_name, policy)
    if external_id:
        form["ExternalId"] = external_id
    signed = sign_rpc("POST", form, base, when=clock(), nonce=nonce())
    secrets = [base.access_key_secret, base.security_token or ""]
    return _sts_call(session, endpoint, signed, "AssumeRole", secrets, timeout)


def assume_role_with_oidc(
    session: requests.Session,
    endpoint: str,
    *,
    role_arn: str,
    oidc_provider_arn: str,
    oidc_token: str,
    session_name: str,
    duration: int,
    policy: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    timeout: tuple[float, float] = STS_TIMEOUT,
) -> Issued:
    """One (anonymous) ``AssumeRoleWithOIDC`` call to ``endpoint``."""
    form = _common("AssumeRoleWithOIDC", duration, role_arn, session_name, policy)
    form["OIDCProviderArn"] = oidc_provider_arn
    form["OIDCToken"] = oidc_token
    form["Timestamp"] = clock().astimezone(UTC).strftime(DATE_FORMAT)
    return _sts_call(session, endpoint, form, "AssumeRoleWithOIDC", [oidc_token], timeout)


def ecs_role_credentials(
    session: requests.Session,
    endpoint: str,
    role_name: str,
    *,
    timeout: tuple[float, float] = METADATA_TIMEOUT,
) -> Issued:
    """The instance RAM role's credentials from the metadata service at ``endpoint``, token
    first (``PUT /latest/api/token``)."""
    common = {"user-agent": _user_agent()}
    try:
        token_response = session.put(
            endpoint + METADATA_TOKEN_PATH,
            headers={**common, "X-aliyun-ecs-metadata-token-ttl-seconds": str(METADATA_TOKEN_TTL)},
            timeout=timeout,
            allow_redirects=False,
            proxies=_NO_PROXY,
        )
    except requests.RequestException as exc:
        raise _transport_error("MetadataToken", exc, ()) from None
    if token_response.status_code >= 300:
        raise _metadata_error(token_response, "MetadataToken", ())
    token = token_response.text.strip()
    if not token:
        raise InvalidResponseError(
            token_response.status_code,
            "InvalidResponse",
            "the metadata token is empty",
            operation="MetadataToken",
        )
    try:
        response = session.get(
            endpoint + METADATA_CREDENTIALS_PATH + role_name,
            headers={**common, "X-aliyun-ecs-metadata-token": token},
            timeout=timeout,
            allow_redirects=False,
            proxies=_NO_PROXY,
        )
    except requests.RequestException as exc:
        raise _transport_error("MetadataCredentials", exc, (token,)) from None
    if response.status_code >= 300:
        raise _metadata_error(response, "MetadataCredentials", (token,))
    data = _json_or_error(response, "MetadataCredentials", (token,))
    code = data.get("Code")
    if code is not None and str(code) != "Success":
        raise InvalidResponseError(
            response.status_code,
            str(code),
            "the metadata service did not answer Success",
            operation="MetadataCredentials",
        )
    return _issued(data, "MetadataCredentials", None)


def _metadata_error(
    response: requests.Response, operation: str, secrets: Iterable[str]
) -> AliyunError:
    """The metadata service answers errors in plain text or HTML, not JSON."""
    status = response.status_code
    text = scrub((response.text or "").strip()[:200], secrets)
    hint = {
        403: "the instance refused the token request (is metadata access disabled?)",
        404: "no such RAM role is attached to this instance",
    }.get(status, "")
    message = "; ".join(part for part in (hint, text) if part) or f"HTTP {status}"
    return error_from_response(status, {"Message": message}, response.headers, operation=operation)
