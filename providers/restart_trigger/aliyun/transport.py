"""One signed attempt: ``Transport.send`` sends one request and returns its JSON body or raises.

What lives here (and nowhere else):

* the headers every call carries (``x-acs-action``, ``x-acs-version``, ``x-acs-region-id``,
  ``accept: application/json``, the user agent) and the form body encoding;
* the per-attempt timeout, capped by the caller's ``Deadline``: connect and read each last at
  most the time left, and no attempt starts once the deadline has passed
  (``DeadlineExceeded``, ``sent=False``);
* ``request_was_not_sent``: the rule urllib3/requests apply to retries (never resend what may
  have reached the server), which turns a ``requests`` failure into ``TransportError`` with
  ``sent`` set;
* reading the answer: HTTP >= 300 is an error built from its body, a body that is not a JSON
  object is ``InvalidResponseError``, an EDAS body ``Code`` other than 200 and a Web+ body
  ``Code`` other than ``OK`` are errors although the HTTP status is 200.

Retries, backoff and lost-answer recovery are the caller's (``client``, ``recovery``).
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

import requests
import urllib3.exceptions

from ..backoff import Deadline
from .errors import (
    DeadlineExceeded,
    InvalidResponseError,
    TransportError,
    business_error_from_body,
    error_from_response,
    parse_error_body,
    scrub,
)

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)
"""(connect, read) timeout in seconds for each HTTP attempt."""


@dataclass(frozen=True)
class Operation:
    """One API operation: product, action name, HTTP method, ROA path and API version."""

    product: str
    action: str
    method: str
    path: str
    version: str


# --- was the request sent? ------------------------------------------------------------------

_NOT_SENT_CAUSES = (
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.ConnectTimeoutError,
    urllib3.exceptions.NameResolutionError,
    ConnectionRefusedError,
    socket.gaierror,
    ssl.SSLCertVerificationError,
)


def _causes(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen or len(seen) > 20:
            continue
        seen.add(id(current))
        yield current
        for arg in getattr(current, "args", ()):
            if isinstance(arg, BaseException):
                stack.append(arg)
        for attr in ("reason", "__cause__", "__context__"):
            nested = getattr(current, attr, None)
            if isinstance(nested, BaseException):
                stack.append(nested)


def request_was_not_sent(exc: requests.RequestException) -> bool:
    """True when ``exc`` proves the request never reached the server.

    Connect timeouts, refused connections, DNS failures and certificate verification failures
    happen before any request byte is written. Anything else (read timeout, reset or closed
    connection, other TLS errors) may have happened after the server received the request.
    """
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        return any(isinstance(cause, _NOT_SENT_CAUSES) for cause in _causes(exc))
    return False


_TRANSPORT_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
"""Failures of the connection itself; any other ``requests`` error is a bug and propagates."""


# --- the transport --------------------------------------------------------------------------


class Transport:
    """Sends one signed request per ``send`` call.

    Args:
        session: the ``requests.Session`` to send with (its owner closes it).
        auth: the signer, a ``requests.auth.AuthBase`` (``AcsV3Auth``); it runs once per
            attempt, so each attempt gets a fresh date and nonce.
        endpoints: ``{product: "scheme://host[:port]"}`` for every product an operation names.
        region: sent as ``x-acs-region-id``.
        user_agent: the ``user-agent`` header.
        secrets: values scrubbed from every error message (the AccessKey secret, the token).
        timeout: ``(connect, read)`` seconds per attempt, before the deadline's cap.
    """

    def __init__(
        self,
        *,
        session: requests.Session,
        auth: requests.auth.AuthBase,
        endpoints: Mapping[str, str],
        region: str,
        user_agent: str,
        secrets: Iterable[str] = (),
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.session = session
        self.auth = auth
        self.endpoints = dict(endpoints)
        self.region = region
        self.user_agent = user_agent
        self.secrets = tuple(secrets)
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Transport(region={self.region!r}, endpoints={self.endpoints!r})"

    def send(
        self,
        op: Operation,
        query: Mapping[str, str],
        form: Mapping[str, str] | None = None,
        *,
        deadline: Deadline,
    ) -> dict:
        """Send ``op`` once and return its JSON body, or raise an ``AliyunError`` subclass.

        ``query`` goes in the URL, ``form`` (if any) in an url-encoded body. Raises
        ``DeadlineExceeded`` without sending when ``deadline`` has already passed.
        """
        timeout = self._timeout(op, deadline)
        headers = {
            "x-acs-action": op.action,
            "x-acs-version": op.version,
            "x-acs-region-id": self.region,
            "accept": "application/json",
            "user-agent": self.user_agent,
        }
        body = None
        if form:
            body = urlencode(sorted(form.items())).encode("utf-8")
            headers["content-type"] = "application/x-www-form-urlencoded"
        url = self.endpoints[op.product] + op.path
        try:
            response = self.session.request(
                op.method,
                url,
                params=sorted(query.items()) or None,
                data=body,
                headers=headers,
                auth=self.auth,
                timeout=timeout,
                allow_redirects=False,
            )
        except _TRANSPORT_ERRORS as exc:
            not_sent = request_was_not_sent(exc)
            raise TransportError(
                "ConnectionNotEstablished" if not_sent else "NoResponse",
                scrub(f"{type(exc).__name__}: {exc}", self.secrets),
                sent=not not_sent,
                operation=op.action,
            ) from None
        return self._parse(op, response)

    def _timeout(self, op: Operation, deadline: Deadline) -> tuple[float, float]:
        """The attempt's (connect, read) timeout: ours, but never past the deadline."""
        remaining = deadline.remaining()
        if remaining <= 0:
            raise DeadlineExceeded(
                f"the deadline of {deadline.seconds:g}s passed before {op.action} could be "
                "sent; nothing was sent",
                operation=op.action,
            )
        connect, read = self.timeout
        return min(connect, remaining), min(read, remaining)

    def _parse(self, op: Operation, response: requests.Response) -> dict:
        status = response.status_code
        header_request_id = response.headers.get("x-acs-request-id")
        log.debug(
            "%s %s -> HTTP %s (request id %s)", op.product, op.action, status, header_request_id
        )
        if status >= 300:
            data = parse_error_body(response.content, response.headers.get("content-type"))
            if header_request_id and not data.get("RequestId"):
                data = {**data, "RequestId": header_request_id}
            raise error_from_response(
                status,
                data,
                response.headers,
                operation=op.action,
                secrets=self.secrets,
                fallback_message=f"HTTP {status} {response.reason or ''}".strip(),
            )
        try:
            data = json.loads(response.content or b"null")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise InvalidResponseError(
                status,
                "InvalidResponse",
                "the response body is not a JSON object",
                header_request_id,
                operation=op.action,
            )
        code = data.get("Code", data.get("code"))
        if code is not None:
            text = str(code).strip()
            ok = text == "200" if op.product == "edas" else text.upper() in ("OK", "200")
            if not ok:
                raise business_error_from_body(
                    status, data, operation=op.action, secrets=self.secrets
                )
        return data
