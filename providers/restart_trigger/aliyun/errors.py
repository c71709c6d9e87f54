"""Typed errors for Alibaba Cloud API calls, the rules that map a response onto them, and
``scrub`` (secrets out of every message).

The transport (``transport.py``) raises these; failures without an HTTP answer are
``TransportError`` (``sent`` says whether the request may have reached the server), and
``DeadlineExceeded`` is the one raised when the caller's deadline left no time to send.

Every error carries ``http_status``, ``code``, ``message`` and ``request_id``. Messages are
scrubbed before they are stored, so ``str()`` of an error (and any log line built from it)
never contains an AccessKey secret or an STS security token, even when the server echoes its
string-to-sign or canonical request back (``SignatureDoesNotMatch``).

The code is the body's ``Code``, or its ``ErrorCode`` when ``Code`` is only a number and
``ErrorCode`` names the reason (SAE; ``error_code_of``). Mapping, first match wins:

========================================================  =====================
condition                                                 class
========================================================  =====================
code in the signature/key/token/timestamp/nonce family,   ``AuthError``
``Forbidden.AccessKey*``, ``Forbidden.RAM``, HTTP 401
code starting with ``Throttling``, HTTP 429, or a         ``ThrottlingError``
positive ``x-acs-retry-after`` header
HTTP 5xx, or code ``InternalError``/``ServiceUnavailable``  ``ServerError``
/``UnknownError``
code ``ResourceAuthFailed``/``ChangeNotExists`` or any    ``NotFoundError``
code ending in ``NotFound``/``NotExist(s)``, HTTP 404
anything else (other 4xx; EDAS HTTP 200 with body         ``BusinessError``
``Code`` != 200; Web+ HTTP 200 with body ``Code`` != OK;
SAE HTTP 200 with ``Code`` != 200 or ``Success`` false)
========================================================  =====================
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

REDACTED = "***"

# Codes a caller fixes by changing credentials, signature inputs or the clock.
_AUTH_CODES = frozenset(
    {
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "InvalidAccessKeySecret",
        "SignatureNonceUsed",
        "ContentMD5NotMatched",
        "MissingSecurityToken",
        "InvalidAuthorization",
        "MissingAuthorization",
        "InvalidSignatureMethod",
        "UnsupportedSignatureVersion",
        "Forbidden.RAM",
        "NoPermission",
    }
)
_AUTH_PREFIXES = (
    "InvalidAccessKeyId",
    "InvalidTimeStamp",
    "InvalidSecurityToken",
    "Forbidden.AccessKey",
    "SignatureNonce",
    "InvalidNonce",
    "ContentSha256",
    "ContentSHA256",
)
_SERVER_CODES = frozenset(
    {"InternalError", "ServiceUnavailable", "UnknownError", "InternalFailure"}
)
_NOT_FOUND_CODES = frozenset(
    {"ResourceAuthFailed", "ChangeNotExists", "EnvNotExists", "AppNotExists"}
)
_NOT_FOUND_SUFFIXES = ("NotFound", "NotExist", "NotExists")

# A signed header line the server may echo back in a SignatureDoesNotMatch message.
_TOKEN_LINE = re.compile(r"(x-acs-security-token\s*[:=]\s*)[^\s\]\[,;\"']+", re.IGNORECASE)


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Return ``text`` with every known secret and any echoed security-token header removed.

    ``secrets`` are literal values (AccessKey secret, STS token); each is replaced, as is its
    percent-encoded form. Values shorter than 4 characters are ignored to avoid mangling text.
    """
    out = _TOKEN_LINE.sub(lambda m: m.group(1) + REDACTED, text)
    for secret in secrets:
        if not secret or len(secret) < 4:
            continue
        for form in {secret, quote(secret, safe=""), quote(secret, safe="~")}:
            out = out.replace(form, REDACTED)
    return out


class AliyunError(Exception):
    """Base class of every error raised by ``restart_trigger.aliyun``.

    Fields:
        http_status: HTTP status of the response, or ``None`` when there was no response.
        code: Alibaba Cloud error code, e.g. ``Throttling.User``; never empty.
        message: human-readable message from the server (scrubbed of secrets).
        request_id: the server's ``RequestId`` if it sent one, else ``None``.
        host_id: the server's ``HostId`` if present.
        recommend: the troubleshooting URL (``Recommend``) if present.
        operation: the API action that failed, e.g. ``RestartApplication``.
        retry_after: seconds the server asked us to wait (``x-acs-retry-after``), or ``None``.
    """

    def __init__(
        self,
        http_status: int | None,
        code: str,
        message: str,
        request_id: str | None = None,
        *,
        host_id: str | None = None,
        recommend: str | None = None,
        operation: str | None = None,
        retry_after: float | None = None,
        secrets: Iterable[str | None] = (),
    ) -> None:
        secrets = tuple(secrets)
        self.http_status = http_status
        self.code = scrub(str(code or "Unknown"), secrets)
        self.message = scrub(str(message or ""), secrets)
        self.request_id = request_id
        self.host_id = host_id
        self.recommend = scrub(recommend, secrets) if recommend else None
        self.operation = operation
        self.retry_after = retry_after
        super().__init__(self.code, self.message)

    def __str__(self) -> str:
        where = f"{self.operation}: " if self.operation else ""
        extras = []
        if self.http_status is not None:
            extras.append(f"HTTP {self.http_status}")
        if self.request_id:
            extras.append(f"request id {self.request_id}")
        tail = f" ({', '.join(extras)})" if extras else ""
        return f"{where}{self.code}: {self.message}{tail}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(http_status={self.http_status!r}, code={self.code!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )


class ThrottlingError(AliyunError):
    """The server rejected the call for flow control; safe to retry after a delay."""


class ServerError(AliyunError):
    """HTTP 5xx or an ``InternalError``/``ServiceUnavailable`` code; usually transient."""


class TransportError(AliyunError):
    """No HTTP response: connection refused/reset, DNS failure, TLS failure or timeout.

    ``sent`` is ``False`` when the request certainly never reached the server (connection
    refused, connect timeout, DNS or TLS failure) and ``True`` when it may have been
    delivered (read timeout, connection dropped after sending).
    """

    def __init__(self, code: str, message: str, *, sent: bool, operation: str | None = None):
        super().__init__(None, code, message, None, operation=operation)
        self.sent = sent


class DeadlineExceeded(TransportError):
    """The call's deadline passed: before an attempt could start, or while it was under way.

    Raised instead of sending a request that would have no time left for its answer
    (``sent=False``: like a refused connection, a restart that ends this way was certainly
    not accepted), and when the transport cut an attempt short at the deadline
    (``sent=True`` once the connection was up: the request may have reached the server, so
    a restart that ends this way has an unknown outcome).
    """

    def __init__(self, message: str, *, operation: str | None = None, sent: bool = False):
        super().__init__("DeadlineExceeded", message, sent=sent, operation=operation)


class AuthError(AliyunError):
    """Credentials, signature, timestamp, nonce or security-token problem; not retried."""


class NotFoundError(AliyunError):
    """The target does not exist or does not belong to this account; not retried."""


class BusinessError(AliyunError):
    """The server understood the call and refused it (other 4xx, or a 200 whose body says it
    failed: EDAS ``Code`` != 200, Web+ ``Code`` != OK, SAE ``Success`` false)."""


class RestartOutcomeUnknown(AliyunError):
    """A restart request may or may not have been accepted, and we could not find out in time.

    ``target`` names the application or environment (e.g. ``EDAS application app-1``);
    ``candidates`` are the new restarts found that could each be ours (empty when none was
    found). Re-running is safe only after checking the target's recent changes by hand.
    """

    def __init__(
        self,
        target: str,
        message: str,
        *,
        operation: str | None = None,
        cause: BaseException | None = None,
        candidates: Iterable[str] = (),
    ) -> None:
        super().__init__(None, "RestartOutcomeUnknown", message, None, operation=operation)
        self.target = target
        self.candidates = tuple(candidates)
        self.__cause__ = cause
        # Set by ``recovery`` where known: the snapshot of the target's change ids taken
        # before the send, the send's wall-clock time, and the settle window that applied.
        self.snapshot: frozenset[str] | None = None
        self.sent_at: float | None = None
        self.settle_window: float | None = None


class InvalidResponseError(ServerError):
    """The server answered with a body we cannot read (not JSON, or missing a required field)."""


def error_class_for(code: str | None, http_status: int | None) -> type[AliyunError]:
    """Pick the error class for an error ``code`` and ``http_status`` (see the module table)."""
    code = code or ""
    if code in _AUTH_CODES or code.startswith(_AUTH_PREFIXES) or http_status == 401:
        return AuthError
    if code.startswith("Throttling") or http_status == 429:
        return ThrottlingError
    if code in _SERVER_CODES or (http_status is not None and http_status >= 500):
        return ServerError
    if code in _NOT_FOUND_CODES or code.endswith(_NOT_FOUND_SUFFIXES) or http_status == 404:
        return NotFoundError
    return BusinessError


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Read ``x-acs-retry-after`` (milliseconds) as seconds; ``None`` unless a positive integer."""
    raw = None
    for key, value in headers.items():
        if key.lower() == "x-acs-retry-after":
            raw = value
            break
    if raw is None:
        return None
    try:
        millis = int(str(raw).strip())
    except ValueError:
        return None
    return millis / 1000.0 if millis > 0 else None


def parse_error_body(body: bytes | str, content_type: str | None) -> dict[str, Any]:
    """Read an error body: JSON ``{RequestId, HostId, Code, Message, ...}`` or XML ``<Error>``.

    Returns an empty dict when the body is neither.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text.strip()
    if not text:
        return {}
    if "xml" in (content_type or "").lower() or text.startswith("<"):
        try:
            root = ET.fromstring(text)
        except ET.ParseError:
            return {}
        found = root.find("Error")
        node = found if found is not None else root
        return {child.tag: (child.text or "") for child in node}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _field(data: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if data.get(name) not in (None, ""):
            return data[name]
    return None


def error_code_of(data: Mapping[str, Any]) -> str | None:
    """The error code a body carries: its ``Code``, unless that is only a number (an HTTP-like
    status) and ``ErrorCode`` names the reason, as SAE bodies do (``Code`` "400",
    ``ErrorCode`` ``Application.ChangerOrderRunning``; its models document both fields).
    ``ErrorCode`` ``success`` (sent on some SAE successes) is no reason."""
    code = _field(data, "Code", "code")
    detail = _field(data, "ErrorCode", "errorCode")
    numeric = code is None or str(code).strip().lstrip("-").isdigit()
    if detail is not None and numeric and str(detail).strip().lower() != "success":
        return str(detail).strip()
    return None if code is None else str(code)


def error_from_response(
    http_status: int,
    data: Mapping[str, Any],
    headers: Mapping[str, str],
    *,
    operation: str | None = None,
    secrets: Iterable[str | None] = (),
    fallback_message: str = "",
) -> AliyunError:
    """Build the typed error for an HTTP error response (status >= 400) whose body is ``data``."""
    code = error_code_of(data) or f"HTTP{http_status}"
    message = _field(data, "Message", "message", "Description", "description")
    message = str(message) if message is not None else (fallback_message or "no error message")
    retry_after = retry_after_seconds(headers)
    cls = error_class_for(code, http_status)
    if retry_after is not None and cls not in (AuthError, NotFoundError):
        cls = ThrottlingError
    return cls(
        http_status,
        code,
        message,
        _field(data, "RequestId", "requestId"),
        host_id=_field(data, "HostId", "hostId"),
        recommend=_field(data, "Recommend", "recommend"),
        operation=operation,
        retry_after=retry_after,
        secrets=secrets,
    )


def json_answer(
    status: int,
    reason: str,
    headers: Mapping[str, str],
    content: bytes,
    *,
    operation: str,
    secrets: Iterable[str | None] = (),
) -> dict[str, Any]:
    """The JSON object of an answer, or the typed error it is: an HTTP status of 300 or more
    raises ``error_from_response`` (the body's error, the header's request id), and a body
    that is no JSON object raises ``InvalidResponseError``. Business codes in a 2xx body are
    the caller's to judge (products differ)."""
    request_id = headers.get("x-acs-request-id")
    if status >= 300:
        data = parse_error_body(content, headers.get("content-type"))
        if request_id and not data.get("RequestId"):
            data = {**data, "RequestId": request_id}
        raise error_from_response(
            status,
            data,
            headers,
            operation=operation,
            secrets=secrets,
            fallback_message=f"HTTP {status} {reason}".strip(),
        )
    try:
        data = json.loads(content or b"null")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise InvalidResponseError(
            status,
            "InvalidResponse",
            "the response body is not a JSON object",
            request_id,
            operation=operation,
        )
    return data


def business_error_from_body(
    http_status: int,
    data: Mapping[str, Any],
    *,
    operation: str | None = None,
    secrets: Iterable[str | None] = (),
) -> AliyunError:
    """Build the error for an HTTP 2xx answer whose body says the call failed (a ``Code``
    other than success, or SAE's ``Success`` false).

    Numeric codes (EDAS) become ``BusinessError``; textual codes are classified like HTTP
    errors (so a body ``Code`` of ``Throttling.User`` is still a ``ThrottlingError``).
    """
    code = error_code_of(data) or "Success=false"
    cls = BusinessError if code.lstrip("-").isdigit() else error_class_for(code, None)
    message = _field(data, "Message", "message") or "the call returned an error code"
    return cls(
        http_status,
        code,
        str(message),
        _field(data, "RequestId", "requestId"),
        host_id=_field(data, "HostId"),
        recommend=_field(data, "Recommend"),
        operation=operation,
        secrets=secrets,
    )
