"""Alibaba Cloud V3 request signing (ACS3-HMAC-SHA256) as a ``requests`` auth handler.

The signer is built from the steps of the specification, each a small function:

1. ``hashed_payload``     hex SHA-256 of the exact body bytes (``x-acs-content-sha256``)
2. ``canonical_query``    sorted ``key=value`` pairs, RFC 3986 encoded (only ``A-Za-z0-9-_.~`` kept)
3. ``canonical_headers``  lowercased ``name:trimmed-value`` lines, sorted, plus the signed-name list
4. ``canonical_request``  method, URI, query, headers, signed headers, payload hash
5. ``string_to_sign``     ``ACS3-HMAC-SHA256`` + hex SHA-256 of the canonical request
6. ``signature``          hex HMAC-SHA256 of the string to sign, keyed with the raw secret
7. ``authorization``      ``ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,Signature=..``

Signed headers: ``host`` (with a non-default port), ``content-type`` when present and every
``x-acs-*`` header: the minimum the V3 documentation asks for. Each call to the handler (i.e.
each attempt, including retries) gets a fresh ``x-acs-date`` and ``x-acs-signature-nonce``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import parse_qsl, quote, urlsplit

import requests

ALGORITHM = "ACS3-HMAC-SHA256"
"""Value of the signature algorithm, first word of the Authorization header."""

DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
"""Format of ``x-acs-date`` (UTC)."""

DEFAULT_SIGNED_HEADERS = ("host", "content-type")
"""Headers signed (when present) besides every ``x-acs-*`` header."""


class SigningCredentials(Protocol):
    """What the signer needs from a credentials object."""

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


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _new_nonce() -> str:
    return secrets.token_hex(16)


class AcsV3Auth(requests.auth.AuthBase):
    """Sign each outgoing request with ACS3-HMAC-SHA256.

    Args:
        credentials: object with ``access_key_id``, ``access_key_secret`` and optional
            ``security_token``. With a token, ``x-acs-security-token`` and
            ``x-acs-accesskey-id`` are added (and signed).
        clock: returns the current time as an aware datetime; default ``datetime.now(UTC)``.
        nonce: returns a fresh unique nonce string; default 32 random hex digits.

    The handler sets ``Host`` explicitly so the signed value is what goes on the wire, and
    converts a ``str`` body to UTF-8 bytes so the hashed bytes are exactly the sent bytes.
    """

    def __init__(
        self,
        credentials: SigningCredentials,
        *,
        clock: Callable[[], datetime] = _utc_now,
        nonce: Callable[[], str] = _new_nonce,
    ) -> None:
        self._credentials = credentials
        self._clock = clock
        self._nonce = nonce

    def __repr__(self) -> str:
        return f"{type(self).__name__}(access_key_id={self._credentials.access_key_id!r})"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body
        if body is None:
            body = b""
        elif isinstance(body, str):
            body = body.encode("utf-8")
            request.body = body
        elif not isinstance(body, bytes):
            raise TypeError("AcsV3Auth signs only in-memory bodies (bytes or str), not streams")
        if body:
            request.headers["Content-Length"] = str(len(body))

        creds = self._credentials
        headers = request.headers
        headers["Host"] = host_header(request.url or "")
        headers["x-acs-date"] = self._clock().astimezone(UTC).strftime(DATE_FORMAT)
        headers["x-acs-signature-nonce"] = self._nonce()
        headers["x-acs-content-sha256"] = hashed_payload(body)
        if creds.security_token:
            headers["x-acs-accesskey-id"] = creds.access_key_id
            headers["x-acs-security-token"] = creds.security_token
        else:
            headers.pop("x-acs-security-token", None)
            headers.pop("x-acs-accesskey-id", None)

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
