"""Signature verification for the three flavours the Alibaba Cloud SDKs send.

The verifier rebuilds the string-to-sign from what actually arrived, never from what a
well-behaved client "should" have sent:

* ``v3``: ACS3-HMAC-SHA256 (tea-openapi default). The signed header list is taken from the
  ``Authorization`` header; the body hash is recomputed and compared with
  ``x-acs-content-sha256``; ``host`` is signed as received, port included.
* ``roa``: legacy ROA HMAC-SHA1 as aliyun-python-sdk-core sends it (``Date``, ``Content-MD5``).
* ``tea-v2``: the tea ``v2`` ROA HMAC-SHA1 flavour (lower-case headers, a nonce, no
  ``Content-MD5``). Same algorithm as ``roa``; an empty query value is written ``k`` rather
  than ``k=``.

Checks run in the gateway's order: credentials parse, access key, security token, timestamp,
body digest, signature, nonce replay. Every failure raises :class:`~emulator.errors.ApiError`
with the documented code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote

from emulator.errors import ApiError

#: Allowed distance between the client's clock and ours, in seconds.
MAX_CLOCK_SKEW_S = 15 * 60

V3_ALGORITHM = "ACS3-HMAC-SHA256"
FLAVOUR_V3 = "v3"
FLAVOUR_ROA = "roa"
FLAVOUR_TEA_V2 = "tea-v2"


@dataclass(frozen=True)
class ReceivedRequest:
    """A request as it arrived on the wire, already split into its parts.

    ``query`` holds the form-decoded query pairs in arrival order; ``headers`` holds every
    header as ``(name, value)`` with the name exactly as sent.
    """

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """Return the first value of a header (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def header_values(self, name: str) -> list[str]:
        """Return every value received for a header (case-insensitive)."""
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def query_dict(self) -> dict[str, str]:
        """Return the query as a dict (the last value wins for repeated keys)."""
        return dict(self.query)


@dataclass(frozen=True)
class KeyRecord:
    """What the verifier needs to know about an access key."""

    access_key_id: str
    access_key_secret: str
    account_id: str
    security_token: str | None = None
    security_token_expires_at: float | None = None
    enabled: bool = True


@dataclass(frozen=True)
class Caller:
    """The identity a verified request was signed with."""

    access_key_id: str
    account_id: str
    flavour: str
    used_security_token: bool


class NonceStore:
    """Remembers signature nonces per access key for twice the clock-skew window."""

    def __init__(self, ttl_s: float = 2 * MAX_CLOCK_SKEW_S) -> None:
        self._ttl_s = ttl_s
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def check_and_add(self, access_key_id: str, nonce: str, now: float) -> bool:
        """Record a nonce; return False if it was already used within the window."""
        key = (access_key_id, nonce)
        with self._lock:
            if len(self._seen) > 10_000:
                cutoff = now - self._ttl_s
                self._seen = {k: t for k, t in self._seen.items() if t >= cutoff}
            seen_at = self._seen.get(key)
            if seen_at is not None and now - seen_at < self._ttl_s:
                return False
            self._seen[key] = now
            return True


def incomplete_signature(detail: str) -> ApiError:
    """400 IncompleteSignature: the Authorization header is missing or malformed."""
    return ApiError(
        400,
        "IncompleteSignature",
        f"The request signature does not conform to Aliyun standards. {detail}",
    )


def _signature_mismatch(string_to_sign: str, canonical_request: str | None = None) -> ApiError:
    message = (
        "Specified signature is not matched with our calculation. server string to sign is:"
        + string_to_sign
    )
    if canonical_request is not None:
        message += f" server CanonicalRequest is [{canonical_request}]"
    return ApiError(400, "SignatureDoesNotMatch", message)


def _expired() -> ApiError:
    return ApiError(
        400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."
    )


def _bad_timestamp(detail: str) -> ApiError:
    return ApiError(
        400,
        "InvalidTimeStamp.Format",
        f"Specified time stamp or date value is not well formatted. {detail}",
    )


# --------------------------------------------------------------------------------------------
# Canonicalisation helpers (public so tests can build expected values independently)
# --------------------------------------------------------------------------------------------


def v3_canonical_query(query: tuple[tuple[str, str], ...]) -> str:
    """Sorted ``key=quote(value, safe='~')`` pairs joined by ``&`` (last value per key)."""
    pairs = dict(query)
    return "&".join(
        f"{key}={quote(pairs[key], safe='~', encoding='utf-8')}" for key in sorted(pairs)
    )


def v3_canonical_headers(req: ReceivedRequest, signed: list[str]) -> str:
    """``name:trimmed-values`` lines for the signed headers, each ending in a newline."""
    lines = []
    for name in signed:
        values = sorted(v.strip() for v in req.header_values(name))
        lines.append(f"{name}:{','.join(values)}\n")
    return "".join(lines)


def v3_canonical_request(req: ReceivedRequest, signed: list[str], payload_hash: str) -> str:
    """The six-part ACS3 canonical request."""
    return "\n".join(
        [
            req.method,
            req.path or "/",
            v3_canonical_query(req.query),
            v3_canonical_headers(req, signed),
            ";".join(signed),
            payload_hash,
        ]
    )


def roa_canonical_resource(
    path: str, query: tuple[tuple[str, str], ...], empty_as_bare_key: bool
) -> str:
    """Path plus sorted raw ``k=v`` query pairs (``k`` alone for empty values if asked)."""
    pairs = dict(query)
    if not pairs:
        return path
    parts = []
    for key in sorted(pairs):
        value = pairs[key]
        parts.append(key if (value == "" and empty_as_bare_key) else f"{key}={value}")
    return f"{path}?{'&'.join(parts)}"


def roa_string_to_sign(req: ReceivedRequest, empty_as_bare_key: bool) -> str:
    """Method, Accept, Content-MD5, Content-Type, Date, x-acs-* headers, resource."""
    head = [
        req.method,
        req.header("Accept") or "",
        req.header("Content-MD5") or "",
        req.header("Content-Type") or "",
        req.header("Date") or "",
    ]
    acs: dict[str, list[str]] = {}
    for name, value in req.headers:
        lowered = name.lower()
        if lowered.startswith("x-acs-"):
            acs.setdefault(lowered, []).append(value)
    canonical_headers = "".join(f"{name}:{','.join(acs[name])}\n" for name in sorted(acs))
    resource = roa_canonical_resource(req.path, req.query, empty_as_bare_key)
    return "\n".join(head) + "\n" + canonical_headers + resource


# --------------------------------------------------------------------------------------------
# The verifier
# --------------------------------------------------------------------------------------------


class SignatureVerifier:
    """Verifies a :class:`ReceivedRequest` against the known access keys."""

    def __init__(
        self,
        lookup: Callable[[str], KeyRecord | None],
        nonces: NonceStore | None = None,
        clock: Callable[[], float] = time.time,
        max_skew_s: float = MAX_CLOCK_SKEW_S,
    ) -> None:
        self._lookup = lookup
        self._nonces = nonces or NonceStore()
        self._clock = clock
        self._max_skew_s = max_skew_s

    @staticmethod
    def detect_flavour(req: ReceivedRequest) -> str | None:
        """Guess the flavour from the Authorization header (None if unsigned/unknown)."""
        auth = (req.header("Authorization") or "").strip()
        if auth.startswith(V3_ALGORITHM + " "):
            return FLAVOUR_V3
        if auth.startswith("acs "):
            tea = req.header("x-acs-signature-nonce") or req.header("x-acs-credentials-provider")
            return FLAVOUR_TEA_V2 if tea is not None else FLAVOUR_ROA
        return None

    @staticmethod
    def claimed_access_key_id(req: ReceivedRequest) -> str | None:
        """The access key id the request claims, parsed leniently (for the journal)."""
        auth = (req.header("Authorization") or "").strip()
        try:
            if auth.startswith(V3_ALGORITHM + " "):
                fields = _parse_v3_authorization(auth)
                return fields.get("Credential")
            if auth.startswith("acs "):
                return auth[4:].rsplit(":", 1)[0].strip() or None
        except ApiError:
            return None
        return None

    def verify(self, req: ReceivedRequest) -> Caller:
        """Verify the request's signature; return the caller or raise ApiError."""
        flavour = self.detect_flavour(req)
        if flavour is None:
            if req.header("Authorization") is None:
                raise incomplete_signature("The Authorization header is missing.")
            raise incomplete_signature("The Authorization header has an unknown scheme.")
        if flavour == FLAVOUR_V3:
            return self._verify_v3(req)
        return self._verify_roa(req, flavour)

    # -- shared steps --------------------------------------------------------------------

    def _key(self, access_key_id: str) -> KeyRecord:
        record = self._lookup(access_key_id)
        if record is None:
            raise ApiError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        if not record.enabled:
            raise ApiError(400, "InvalidAccessKeyId.Inactive", "Specified access key is disabled.")
        return record

    def _check_security_token(self, req: ReceivedRequest, record: KeyRecord, now: float) -> bool:
        token = req.header("x-acs-security-token")
        if record.security_token is None:
            if token is not None:
                raise ApiError(
                    400,
                    "InvalidSecurityToken.MismatchWithAccessKey",
                    "The security token does not belong to the specified access key.",
                )
            return False
        if token is None or token == "":
            raise ApiError(
                400,
                "MissingSecurityToken",
                "The security token is required for a temporary (STS) access key.",
            )
        if not hmac.compare_digest(token.encode(), record.security_token.encode()):
            raise ApiError(
                400,
                "InvalidSecurityToken.MismatchWithAccessKey",
                "The security token does not belong to the specified access key.",
            )
        expires = record.security_token_expires_at
        if expires is not None and now >= expires:
            raise ApiError(
                400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired."
            )
        claimed = req.header("x-acs-accesskey-id")
        if claimed is not None and claimed != record.access_key_id:
            raise incomplete_signature("x-acs-accesskey-id does not match the credential.")
        return True

    def _check_skew(self, when: datetime, now: float) -> None:
        if abs(when.timestamp() - now) > self._max_skew_s:
            raise _expired()

    def _check_nonce(self, req: ReceivedRequest, access_key_id: str, now: float) -> None:
        nonce = req.header("x-acs-signature-nonce")
        if nonce is None:
            return
        if not self._nonces.check_and_add(access_key_id, nonce, now):
            raise ApiError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")

    # -- V3 ------------------------------------------------------------------------------

    def _verify_v3(self, req: ReceivedRequest) -> Caller:
        now = self._clock()
        fields = _parse_v3_authorization((req.header("Authorization") or "").strip())
        record = self._key(fields["Credential"])
        used_token = self._check_security_token(req, record, now)

        signed = fields["SignedHeaders"].split(";")
        if signed != sorted(signed) or any(not n or n != n.lower() for n in signed):
            raise incomplete_signature("SignedHeaders must be lower-case names, sorted.")
        received = {name.lower() for name, _ in req.headers}
        required = {"host"} | {n for n in received if n.startswith("x-acs-")}
        if "content-type" in received:
            required.add("content-type")
        unsigned = sorted(required - set(signed))
        if unsigned:
            raise incomplete_signature("These headers must be signed: " + ", ".join(unsigned) + ".")
        missing = [n for n in signed if n not in received]
        if missing:
            raise incomplete_signature("Signed headers were not sent: " + ", ".join(missing))

        date = req.header("x-acs-date")
        if date is None:
            raise _bad_timestamp("The x-acs-date header is missing.")
        try:
            when = datetime.strptime(date, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise _bad_timestamp("x-acs-date must look like 2024-01-02T03:04:05Z.") from None
        self._check_skew(when, now)

        claimed_hash = req.header("x-acs-content-sha256")
        if claimed_hash is None:
            raise incomplete_signature("The x-acs-content-sha256 header is missing.")
        payload_hash = hashlib.sha256(req.body).hexdigest()
        if claimed_hash.strip().lower() != payload_hash:
            raise ApiError(
                400,
                "ContentSHA256NotMatched",
                "The x-acs-content-sha256 you specified did not match what we received.",
            )

        canonical = v3_canonical_request(req, signed, payload_hash)
        string_to_sign = f"{V3_ALGORITHM}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"
        expected = hmac.new(
            record.access_key_secret.encode("utf-8"),
            string_to_sign.encode("utf-8"),
            hashlib.sha256,
        ).hexdigest()
        if not hmac.compare_digest(expected, fields["Signature"].strip().lower()):
            raise _signature_mismatch(string_to_sign, canonical)
        self._check_nonce(req, record.access_key_id, now)
        return Caller(record.access_key_id, record.account_id, FLAVOUR_V3, used_token)

    # -- ROA HMAC-SHA1 (legacy core and tea v2) --------------------------------------------

    def _verify_roa(self, req: ReceivedRequest, flavour: str) -> Caller:
        now = self._clock()
        auth = (req.header("Authorization") or "").strip()
        ak, sep, signature = auth[4:].strip().rpartition(":")
        if not sep or not ak or not signature:
            raise incomplete_signature("Expected 'acs <AccessKeyId>:<Signature>'.")
        record = self._key(ak)
        used_token = self._check_security_token(req, record, now)

        date = req.header("Date")
        if date is None:
            raise _bad_timestamp("The Date header is missing.")
        try:
            when = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            raise _bad_timestamp("Date must be an RFC 2616 GMT date.") from None
        if when.tzinfo is None:
            raise _bad_timestamp("Date must be an RFC 2616 GMT date.")
        self._check_skew(when, now)

        content_md5 = req.header("Content-MD5")
        if content_md5 is not None:
            actual = base64.b64encode(hashlib.md5(req.body).digest()).decode("ascii")
            if content_md5.strip() != actual:
                raise ApiError(
                    400,
                    "ContentMD5NotMatched",
                    "The Content-MD5 you specified did not match what we received.",
                )

        secret = record.access_key_secret.encode("utf-8")
        primary = roa_string_to_sign(req, empty_as_bare_key=flavour == FLAVOUR_TEA_V2)
        candidates = [primary]
        if any(value == "" for _, value in req.query):
            candidates.append(roa_string_to_sign(req, empty_as_bare_key=flavour != FLAVOUR_TEA_V2))
        for candidate in candidates:
            digest = hmac.new(secret, candidate.encode("utf-8"), hashlib.sha1).digest()
            expected = base64.b64encode(digest).decode("ascii")
            if hmac.compare_digest(expected, signature.strip()):
                break
        else:
            raise _signature_mismatch(primary)
        self._check_nonce(req, record.access_key_id, now)
        return Caller(record.access_key_id, record.account_id, flavour, used_token)


def _parse_v3_authorization(auth: str) -> dict[str, str]:
    """Split ``ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,Signature=..`` into fields."""
    rest = auth[len(V3_ALGORITHM) :].strip()
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields[key.strip()] = value.strip()
    for name in ("Credential", "SignedHeaders", "Signature"):
        if not fields.get(name):
            raise incomplete_signature(f"The Authorization header lacks {name}.")
    return fields
