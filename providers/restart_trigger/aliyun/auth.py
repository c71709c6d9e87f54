"""Alibaba Cloud request signing as ``requests`` auth handlers, one class per scheme.

* ``AcsV3Auth``: ACS3-HMAC-SHA256, what tea-openapi signs by default (EDAS's current SDK,
  alibabacloud-edas20170801).
* ``AcsRoaSha1Auth``: the ROA HMAC-SHA1 scheme (``Authorization: acs <AccessKeyId>:<sig>``),
  the only one any official Web+ SDK has sent (alibabacloud-webplus20190320 through tea's
  ``do_roarequest``; aliyun-python-sdk-webplus through aliyun-python-sdk-core).

Which product uses which is the client's ``SIGNERS`` table. Each signer is built from the
steps of its specification, each a small pure function; each call to a handler (i.e. each
attempt, including retries) gets a fresh date and nonce, from an injectable clock and nonce.

V3 steps:

1. ``hashed_payload``     hex SHA-256 of the exact body bytes (``x-acs-content-sha256``)
2. ``canonical_query``    sorted ``key=value`` pairs, RFC 3986 encoded (only ``A-Za-z0-9-_.~`` kept)
3. ``canonical_headers``  lowercased ``name:trimmed-value`` lines, sorted, plus the signed-name list
4. ``canonical_request``  method, URI, query, headers, signed headers, payload hash
5. ``string_to_sign``     ``ACS3-HMAC-SHA256`` + hex SHA-256 of the canonical request
6. ``signature``          hex HMAC-SHA256 of the string to sign, keyed with the raw secret
7. ``authorization``      ``ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,Signature=..``

V3 signed headers: ``host`` (with a non-default port), ``content-type`` when present and
every ``x-acs-*`` header: the minimum the V3 documentation asks for.

RPC HMAC-SHA1 steps (signature version 1.0; only STS ``AssumeRole`` is signed this way, as
alibabacloud-credentials, the aliyun CLI and aliyun-python-sdk-core sign it; the parameters
travel in a form body, so no token or signature is ever part of a URL):

1. ``rpc_canonical_query``  every parameter but ``Signature``, sorted, RFC 3986 encoded
2. ``rpc_string_to_sign``   ``METHOD&%2F&`` + the encoded canonical query
3. ``rpc_signature``        base64 HMAC-SHA1 keyed with the secret plus ``&``

ROA HMAC-SHA1 steps:

1. ``content_md5``            base64 of the MD5 digest of the body (only when there is one)
2. ``rfc2616_date``           the ``Date`` value, ``Tue, 02 Jan 2024 03:04:05 GMT``
3. ``roa_canonical_headers``  every ``x-acs-*`` header, lowercased, sorted, ``name:value\n``
4. ``canonical_resource``     path, ``?``, sorted raw ``k=v`` query pairs (no form fields)
5. ``roa_string_to_sign``     method, Accept, Content-MD5, Content-Type, Date, headers, resource
                              (``roa_request_string_to_sign``: 3 to 5 for a whole request)
6. ``roa_signature``          base64 HMAC-SHA1 of the string to sign, keyed with the raw secret
7. ``roa_authorization``      ``acs <AccessKeyId>:<signature>``
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Protocol
from urllib.parse import parse_qsl, quote, urlsplit

import requests

from .credential_types import Credentials, CredentialsSource

ALGORITHM = "ACS3-HMAC-SHA256"
"""Value of the signature algorithm, first word of the Authorization header."""

DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
"""Format of ``x-acs-date`` (UTC)."""

DEFAULT_SIGNED_HEADERS = ("host", "content-type")
"""Headers signed (when present) besides every ``x-acs-*`` header."""


class SigningCredentials(Protocol):
    """The key pair a signature is computed with (a ``Credentials``, as a
    ``CredentialsSource``'s ``current()`` gives it for every request, so that temporary
    credentials refreshed in the middle of a long wait are used)."""

    access_key_id: str
    access_key_secret: str
    security_token: str | None


def hashed_payload(body: bytes) -> str:
    """Lowercase hex SHA-256 of ``body`` (the empty body hashes the empty string)."""
    return hashlib.sha256(body).hexdigest()


def _encode(value: str) -> str:
    return quote(value, safe="~", encoding="utf-8")


def canonical_uri(path: str) -> str:
    """The path exactly as sent on the wire, or ``/`` when empty."""
    return path or "/"


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """Sorted ``key=value`` pairs joined by ``&``, keys and values percent-encoded.

    ``pairs`` are decoded values (as the server sees them after form-decoding the URL query).
    """
    encoded = sorted((_encode(k), _encode(v)) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_headers(headers: Mapping[str, str], names: Iterable[str]) -> tuple[str, str]:
    """Return (canonical header lines, signed header names) for the given header ``names``.

    Each line is ``name:value-trimmed\\n``; names are lowercased and sorted; only names present
    in ``headers`` are used.
    """
    lowered = {k.lower(): str(v).strip() for k, v in headers.items() if v is not None}
    chosen = sorted({n.lower() for n in names if n.lower() in lowered})
    lines = "".join(f"{name}:{lowered[name]}\n" for name in chosen)
    return lines, ";".join(chosen)


def canonical_request(
    method: str,
    uri: str,
    query: str,
    header_lines: str,
    signed_headers: str,
    payload_hash: str,
) -> str:
    """Join the six parts of the canonical request with newlines."""
    return "\n".join([method.upper(), uri, query, header_lines, signed_headers, payload_hash])


def string_to_sign(canonical: str) -> str:
    """``ACS3-HMAC-SHA256\\n`` followed by the hex SHA-256 of the canonical request."""
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{digest}"


def signature(secret: str, to_sign: str) -> str:
    """Lowercase hex HMAC-SHA256 of ``to_sign`` keyed with the raw ``secret``."""
    return hmac.new(secret.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def authorization(access_key_id: str, signed_headers: str, sig: str) -> str:
    """The Authorization header value (no spaces after the commas)."""
    return f"{ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={sig}"


def host_header(url: str) -> str:
    """The ``host`` value for ``url``: the host, plus the port unless it is the scheme default."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return host if port is None or port == default else f"{host}:{port}"


def _body_bytes(request: requests.PreparedRequest, signer: str) -> bytes:
    """The body as the bytes that go on the wire (a ``str`` body becomes UTF-8 bytes, so what
    is hashed is exactly what is sent); sets ``Content-Length`` for a non-empty body."""
    body = request.body
    if body is None:
        return b""
    if isinstance(body, str):
        body = body.encode("utf-8")
        request.body = body
    elif not isinstance(body, bytes):
        raise TypeError(f"{signer} signs only in-memory bodies (bytes or str), not streams")
    if body:
        request.headers["Content-Length"] = str(len(body))
    return body


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _new_nonce() -> str:
    return secrets.token_hex(16)


def _sts_headers(headers: MutableMapping[str, str], creds: SigningCredentials) -> None:
    """With STS credentials, the key id and token headers both official SDKs add (they are
    ``x-acs-`` headers, so signed); without, neither (a retried request may carry them)."""
    if creds.security_token:
        headers["x-acs-accesskey-id"] = creds.access_key_id
        headers["x-acs-security-token"] = creds.security_token
    else:
        headers.pop("x-acs-security-token", None)
        headers.pop("x-acs-accesskey-id", None)


class _Signer(requests.auth.AuthBase):
    """What every signer holds: the credentials or credentials provider (never shown: ``repr``
    names the key id or the provider's source only), and an injectable clock and nonce, so
    tests get byte-identical signatures.

    Each call (each attempt) signs with the source's ``current()``: a provider is asked for its
    current key pair every time, never frozen at construction. ``prepare(deadline)`` lets the
    transport make the provider refresh, if due, before an attempt starts (so a refresh is
    bounded by the call's deadline and its failure is a clear error, never a half-sent
    request)."""

    def __init__(
        self,
        credentials: CredentialsSource,
        *,
        clock: Callable[[], datetime] = _utc_now,
        nonce: Callable[[], str] = _new_nonce,
    ) -> None:
        self._credentials = credentials
        self._clock = clock
        self._nonce = nonce

    def prepare(self, deadline: object = None) -> None:
        """Have the credentials provider refresh now if it is due (no-op for a key pair)."""
        self._credentials.current(deadline)

    def _current(self) -> SigningCredentials:
        return self._credentials.current()

    def __repr__(self) -> str:
        creds = self._credentials
        if not isinstance(creds, Credentials):
            return f"{type(self).__name__}(credentials={creds!r})"
        return f"{type(self).__name__}(access_key_id={creds.access_key_id!r})"


class AcsV3Auth(_Signer):
    """Sign each outgoing request with ACS3-HMAC-SHA256.

    Args:
        credentials: a ``CredentialsSource`` (a ``Credentials``, or a provider of temporary
            ones), asked for its current key pair at every attempt. With a token,
            ``x-acs-security-token`` and ``x-acs-accesskey-id`` are added (and signed).
        clock: returns the current time as an aware datetime; default ``datetime.now(UTC)``.
        nonce: returns a fresh unique nonce string; default 32 random hex digits.

    The handler sets ``Host`` explicitly so the signed value is what goes on the wire, and
    converts a ``str`` body to UTF-8 bytes so the hashed bytes are exactly the sent bytes.
    """

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = _body_bytes(request, type(self).__name__)
        creds = self._current()
        headers = request.headers
        headers["Host"] = host_header(request.url or "")
        headers["x-acs-date"] = self._clock().astimezone(UTC).strftime(DATE_FORMAT)
        headers["x-acs-signature-nonce"] = self._nonce()
        headers["x-acs-content-sha256"] = hashed_payload(body)
        _sts_headers(headers, creds)

        parts = urlsplit(request.url or "")
        names = list(DEFAULT_SIGNED_HEADERS)
        names += [k for k in headers if k.lower().startswith("x-acs-")]
        lines, signed = canonical_headers(headers, names)
        canonical = canonical_request(
            request.method or "GET",
            canonical_uri(parts.path),
            canonical_query(parse_qsl(parts.query, keep_blank_values=True)),
            lines,
            signed,
            headers["x-acs-content-sha256"],
        )
        sig = signature(creds.access_key_secret, string_to_sign(canonical))
        headers["Authorization"] = authorization(creds.access_key_id, signed, sig)
        return request


# --- ROA HMAC-SHA1 ----------------------------------------------------------------------------

ROA_SIGNATURE_METHOD = "HMAC-SHA1"
"""``x-acs-signature-method`` of the ROA scheme."""

ROA_SIGNATURE_VERSION = "1.0"
"""``x-acs-signature-version`` of the ROA scheme."""


def content_md5(body: bytes) -> str:
    """``Content-MD5``: base64 of the raw MD5 digest of the exact body bytes."""
    return base64.b64encode(hashlib.md5(body).digest()).decode("ascii")  # noqa: S324 - the spec's


def rfc2616_date(when: datetime) -> str:
    """The ``Date`` value in RFC 2616 GMT form, English names whatever the locale."""
    return format_datetime(when.astimezone(UTC).replace(microsecond=0), usegmt=True)


def roa_canonical_headers(headers: Mapping[str, str]) -> str:
    """Every ``x-acs-*`` header as ``name:value\n``, names lowercased and sorted.

    Values are used as they are (no trimming), as both official signers do.
    """
    lowered = {k.lower(): str(v) for k, v in headers.items() if v is not None}
    chosen = sorted(name for name in lowered if name.startswith("x-acs-"))
    return "".join(f"{name}:{lowered[name]}\n" for name in chosen)


def canonical_resource(path: str, pairs: Iterable[tuple[str, str]]) -> str:
    """The path, then ``?`` and the query pairs sorted by key, ``k=v`` joined by ``&``.

    ``pairs`` are the decoded values (as the server sees them after form-decoding the URL
    query) and go in raw: no escaping of spaces, ``&``, ``=``, ``/`` or non-ASCII. An empty
    value is written as the bare key, as tea's ``get_string_to_sign`` does (the legacy core
    writes ``k=``); the client never sends empty parameters, so the two never differ.
    Form-body fields are not part of the resource: ``Content-MD5`` covers the body.
    """
    ordered = sorted(pairs, key=lambda pair: pair[0])
    if not ordered:
        return path
    return path + "?" + "&".join(k if v == "" else f"{k}={v}" for k, v in ordered)


def roa_string_to_sign(
    method: str,
    accept: str,
    md5: str,
    content_type: str,
    date: str,
    header_lines: str,
    resource: str,
) -> str:
    """Method, Accept, Content-MD5, Content-Type and Date (empty when absent), one a line;
    then the canonical header lines, then the canonical resource."""
    return "\n".join([method.upper(), accept, md5, content_type, date, ""]) + (
        header_lines + resource
    )


def roa_request_string_to_sign(method: str, url: str, headers: Mapping[str, str]) -> str:
    """The string to sign of a request as it goes on the wire: steps 3 to 5 applied to its
    method, URL (the query is form-decoded first, as the server reads it) and headers.

    ``headers`` must look names up case-insensitively (a ``requests`` header dict)."""
    parts = urlsplit(url)
    return roa_string_to_sign(
        method,
        headers.get("Accept") or "",
        headers.get("Content-MD5") or "",
        headers.get("Content-Type") or "",
        headers.get("Date") or "",
        roa_canonical_headers(headers),
        canonical_resource(parts.path or "/", parse_qsl(parts.query, keep_blank_values=True)),
    )


def roa_signature(secret: str, to_sign: str) -> str:
    """Base64 HMAC-SHA1 of ``to_sign`` keyed with the raw ``secret``."""
    digest = hmac.new(secret.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def roa_authorization(access_key_id: str, sig: str) -> str:
    """The Authorization header value: ``acs <AccessKeyId>:<signature>``."""
    return f"acs {access_key_id}:{sig}"


class AcsRoaSha1Auth(_Signer):
    """Sign each outgoing request with the ROA HMAC-SHA1 scheme, as the Web+ SDKs do.

    Args:
        credentials: as for ``AcsV3Auth``. With a token, ``x-acs-security-token`` and
            ``x-acs-accesskey-id`` are added (and, being ``x-acs-*``, signed), as the tea SDK
            does.
        clock: returns the current time as an aware datetime; default ``datetime.now(UTC)``.
        nonce: returns a fresh unique nonce string; default 32 random hex digits.

    Headers set: ``Date``; ``x-acs-signature-method: HMAC-SHA1``; ``x-acs-signature-version:
    1.0``; ``x-acs-signature-nonce``; ``Content-MD5`` when a body is sent (none otherwise).
    ``Accept`` and ``Content-Type`` are signed as the caller set them.

    The nonce: the current Web+ SDK (alibabacloud-webplus20190320, tea) sends one and the
    Web+ documentation lists it as required, so it is sent; the legacy core sends none. The
    ``Content-MD5``: the legacy core sends it and tea does not; it is sent, because without it
    nothing signed covers a form body (its fields are not in the resource), and the gateway
    checks it against the body. Both are ``x-acs-*``/listed headers the gateway reads from
    what arrived, so either SDK's rules rebuild the same string to sign.
    """

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = _body_bytes(request, type(self).__name__)
        creds = self._current()
        headers = request.headers
        headers["Date"] = rfc2616_date(self._clock())
        if body:
            headers["Content-MD5"] = content_md5(body)
        else:
            headers.pop("Content-MD5", None)
        headers["x-acs-signature-method"] = ROA_SIGNATURE_METHOD
        headers["x-acs-signature-version"] = ROA_SIGNATURE_VERSION
        headers["x-acs-signature-nonce"] = self._nonce()
        _sts_headers(headers, creds)

        to_sign = roa_request_string_to_sign(request.method or "GET", request.url or "", headers)
        sig = roa_signature(creds.access_key_secret, to_sign)
        headers["Authorization"] = roa_authorization(creds.access_key_id, sig)
        return request


# --- RPC HMAC-SHA1 (STS) ----------------------------------------------------------------------

RPC_SIGNATURE_METHOD = "HMAC-SHA1"
RPC_SIGNATURE_VERSION = "1.0"


def rpc_canonical_query(params: Mapping[str, str]) -> str:
    """Every parameter except ``Signature``, sorted by name, ``k=v`` RFC 3986 encoded, ``&``."""
    pairs = sorted((k, v) for k, v in params.items() if k != "Signature" and v is not None)
    return "&".join(f"{_encode(k)}={_encode(str(v))}" for k, v in pairs)


def rpc_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """``METHOD&%2F&`` followed by the encoded canonical query."""
    return f"{method.upper()}&{_encode('/')}&{_encode(rpc_canonical_query(params))}"


def rpc_signature(secret: str, to_sign: str) -> str:
    """Base64 HMAC-SHA1 of ``to_sign`` keyed with ``secret + '&'``."""
    key = (secret + "&").encode("utf-8")
    digest = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def sign_rpc(
    method: str,
    params: Mapping[str, str],
    credentials: SigningCredentials,
    *,
    when: datetime,
    nonce: str,
) -> dict[str, str]:
    """``params`` plus the common RPC signing parameters and their ``Signature``."""
    signed = {
        **params,
        "AccessKeyId": credentials.access_key_id,
        "SignatureMethod": RPC_SIGNATURE_METHOD,
        "SignatureVersion": RPC_SIGNATURE_VERSION,
        "SignatureNonce": nonce,
        "Timestamp": when.astimezone(UTC).strftime(DATE_FORMAT),
    }
    if credentials.security_token:
        signed["SecurityToken"] = credentials.security_token
    signed["Signature"] = rpc_signature(
        credentials.access_key_secret, rpc_string_to_sign(method, signed)
    )
    return signed
