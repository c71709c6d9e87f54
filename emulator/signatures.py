"""Signature verification: one class per scheme the Alibaba Cloud SDKs send, and a map of
which schemes each product accepts (botocore's AUTH_TYPE_MAPS pattern).

Each verifier rebuilds the string-to-sign from what actually arrived, never from what a
well-behaved client "should" have sent:

* :class:`V3Verifier` (``v3``): ACS3-HMAC-SHA256 (tea-openapi default). The signed header list
  is taken from the ``Authorization`` header; the body hash is recomputed and compared with
  ``x-acs-content-sha256``; ``host`` is signed as received, port included; ``x-acs-action``
  is required.
* :class:`LegacyRoaVerifier` (``roa``): ROA HMAC-SHA1 as aliyun-python-sdk-core sends it
  (``Date``, ``Content-MD5``).
* :class:`TeaV2RoaVerifier` (``tea-v2``): the tea ``v2`` ROA HMAC-SHA1 flavour (lower-case
  headers, a nonce, no ``Content-MD5``). Same algorithm as ``roa``; an empty query value is
  written ``k`` rather than ``k=``.

:class:`SignatureVerifier` picks the scheme the request claims, refuses one the product does
not accept (:data:`SCHEMES_BY_PRODUCT`, 400 ``IncompleteSignature``) and hands over to it.
Checks run in the gateway's order: credentials parse, access key, security token, timestamp,
body digest, signature, nonce replay (the shared steps are :class:`KeyChecks`). Every failure
raises :class:`~emulator.errors.ApiError` with the documented code.
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
from typing import ClassVar
from urllib.parse import quote

from emulator.errors import ApiError, missing_parameter

#: Allowed distance between the client's clock and ours, in seconds.
MAX_CLOCK_SKEW_S = 15 * 60

V3_ALGORITHM = "ACS3-HMAC-SHA256"
FLAVOUR_V3 = "v3"
FLAVOUR_ROA = "roa"
FLAVOUR_TEA_V2 = "tea-v2"
FLAVOUR_RPC = "rpc"


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
# The steps every scheme shares
# --------------------------------------------------------------------------------------------


class KeyChecks:
    """Access key, security token, clock skew and nonce replay: the same for every scheme."""

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

    def now(self) -> float:
        """The emulator's clock."""
        return self._clock()

    def key(self, access_key_id: str) -> KeyRecord:
        """The key record, or 404 NotFound / 400 Inactive."""
        record = self._lookup(access_key_id)
        if record is None:
            raise ApiError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        if not record.enabled:
            raise ApiError(400, "InvalidAccessKeyId.Inactive", "Specified access key is disabled.")
        return record

    def security_token(self, req: ReceivedRequest, record: KeyRecord, now: float) -> bool:
        """Check ``x-acs-security-token`` against the key; True if an STS token was used."""
        used = self.token(record, req.header("x-acs-security-token"), now)
        claimed = req.header("x-acs-accesskey-id")
        if used and claimed is not None and claimed != record.access_key_id:
            raise incomplete_signature("x-acs-accesskey-id does not match the credential.")
        return used

    def token(self, record: KeyRecord, token: str | None, now: float) -> bool:
        """Check a security token (however it was sent) against the key; True if one was used.

        An STS key needs its own token (400 ``MissingSecurityToken`` /
        ``InvalidSecurityToken.MismatchWithAccessKey``), until it expires (400
        ``InvalidSecurityToken.Expired``); a permanent key must come without one.
        """
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
        return True

    def skew(self, when: datetime, now: float) -> None:
        """400 InvalidTimeStamp.Expired beyond the allowed clock distance, either way."""
        if abs(when.timestamp() - now) > self._max_skew_s:
            raise _expired()

    def nonce(self, req: ReceivedRequest, access_key_id: str, now: float) -> None:
        """400 SignatureNonceUsed if ``x-acs-signature-nonce`` was seen for this key."""
        self.nonce_value(access_key_id, req.header("x-acs-signature-nonce"), now)

    def nonce_value(self, access_key_id: str, nonce: str | None, now: float) -> None:
        """400 SignatureNonceUsed if ``nonce`` (however it was sent) was seen for this key."""
        if nonce is None:
            return
        if not self._nonces.check_and_add(access_key_id, nonce, now):
            raise ApiError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")


# --------------------------------------------------------------------------------------------
# One class per signature scheme
# --------------------------------------------------------------------------------------------


class SchemeVerifier:
    """One signature scheme: how a request shows it uses it, and how it is verified."""

    #: The scheme's id, as in the journal's ``signature`` field.
    name: ClassVar[str]
    #: How messages name the scheme.
    label: ClassVar[str]

    def __init__(self, checks: KeyChecks) -> None:
        self._checks = checks

    @staticmethod
    def claims(req: ReceivedRequest) -> bool:
        """Whether the request is signed with this scheme (from its headers alone)."""
        raise NotImplementedError

    @staticmethod
    def claimed_access_key_id(req: ReceivedRequest) -> str | None:
        """The access key id the request claims, parsed leniently (for the journal)."""
        raise NotImplementedError

    def verify(self, req: ReceivedRequest) -> Caller:
        """Verify the request; return the caller or raise ApiError."""
        raise NotImplementedError


def _authorization(req: ReceivedRequest) -> str:
    return (req.header("Authorization") or "").strip()


class V3Verifier(SchemeVerifier):
    """ACS3-HMAC-SHA256, as tea-openapi ``Client.do_request`` signs."""

    name = FLAVOUR_V3
    label = V3_ALGORITHM

    @staticmethod
    def claims(req: ReceivedRequest) -> bool:
        return _authorization(req).startswith(V3_ALGORITHM + " ")

    @staticmethod
    def claimed_access_key_id(req: ReceivedRequest) -> str | None:
        try:
            return _parse_v3_authorization(_authorization(req)).get("Credential")
        except ApiError:
            return None

    def verify(self, req: ReceivedRequest) -> Caller:
        # V3 names the operation in a header (the ROA path alone does not make it V3-valid).
        if not (req.header("x-acs-action") or "").strip():
            raise missing_parameter("Action")
        checks = self._checks
        now = checks.now()
        fields = _parse_v3_authorization(_authorization(req))
        record = checks.key(fields["Credential"])
        used_token = checks.security_token(req, record, now)

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
        checks.skew(when, now)

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
        checks.nonce(req, record.access_key_id, now)
        return Caller(record.access_key_id, record.account_id, self.name, used_token)


def _is_tea_v2(req: ReceivedRequest) -> bool:
    """tea v2 marks: a nonce or a credentials provider (aliyun-python-sdk-core sends neither)."""
    return (
        req.header("x-acs-signature-nonce") is not None
        or req.header("x-acs-credentials-provider") is not None
    )


class LegacyRoaVerifier(SchemeVerifier):
    """ROA HMAC-SHA1 as aliyun-python-sdk-core signs (``Date``, ``Content-MD5``, no nonce)."""

    name = FLAVOUR_ROA
    label = "HMAC-SHA1 (ROA)"
    #: How an empty query value is written in the canonical resource (``k`` or ``k=``).
    empty_as_bare_key = False

    @staticmethod
    def claims(req: ReceivedRequest) -> bool:
        return _authorization(req).startswith("acs ") and not _is_tea_v2(req)

    @staticmethod
    def claimed_access_key_id(req: ReceivedRequest) -> str | None:
        return _authorization(req)[4:].rsplit(":", 1)[0].strip() or None

    def verify(self, req: ReceivedRequest) -> Caller:
        checks = self._checks
        now = checks.now()
        ak, sep, signature = _authorization(req)[4:].strip().rpartition(":")
        if not sep or not ak or not signature:
            raise incomplete_signature("Expected 'acs <AccessKeyId>:<Signature>'.")
        record = checks.key(ak)
        used_token = checks.security_token(req, record, now)

        date = req.header("Date")
        if date is None:
            raise _bad_timestamp("The Date header is missing.")
        try:
            when = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            raise _bad_timestamp("Date must be an RFC 2616 GMT date.") from None
        if when.tzinfo is None:
            raise _bad_timestamp("Date must be an RFC 2616 GMT date.")
        checks.skew(when, now)

        content_md5 = req.header("Content-MD5")
        if content_md5 is not None:
            actual = base64.b64encode(hashlib.md5(req.body).digest()).decode("ascii")
            if content_md5.strip() != actual:
                raise ApiError(
                    400,
                    "ContentMD5NotMatched",
                    "The Content-MD5 you specified did not match what we received.",
                )

        # The gateway cannot tell the two HMAC-SHA1 writers apart, so both spellings of an
        # empty query value are accepted; this scheme's own comes first.
        secret = record.access_key_secret.encode("utf-8")
        primary = roa_string_to_sign(req, empty_as_bare_key=self.empty_as_bare_key)
        candidates = [primary]
        if any(value == "" for _, value in req.query):
            candidates.append(roa_string_to_sign(req, empty_as_bare_key=not self.empty_as_bare_key))
        for candidate in candidates:
            digest = hmac.new(secret, candidate.encode("utf-8"), hashlib.sha1).digest()
            expected = base64.b64encode(digest).decode("ascii")
            if hmac.compare_digest(expected, signature.strip()):
                break
        else:
            raise _signature_mismatch(primary)
        checks.nonce(req, record.access_key_id, now)
        return Caller(record.access_key_id, record.account_id, self.name, used_token)


class TeaV2RoaVerifier(LegacyRoaVerifier):
    """ROA HMAC-SHA1 as tea-openapi ``do_roarequest``/``do_roarequest_with_form`` signs.

    Same algorithm as the legacy core; lower-case headers, a nonce, no ``Content-MD5``, and an
    empty query value written ``k``.
    """

    name = FLAVOUR_TEA_V2
    empty_as_bare_key = True

    @staticmethod
    def claims(req: ReceivedRequest) -> bool:
        return _authorization(req).startswith("acs ") and _is_tea_v2(req)


def rpc_percent_encode(value: str) -> str:
    """RFC 3986 encoding as the RPC signature wants it: only ``A-Za-z0-9-_.~`` stay."""
    return quote(value, safe="~", encoding="utf-8")


def rpc_string_to_sign(method: str, params: dict[str, str], space_as_plus: bool = False) -> str:
    """``METHOD&%2F&percentEncode(sorted k=v pairs)`` over every parameter but ``Signature``.

    ``space_as_plus`` writes a space ``+`` (then ``%2B``), as alibabacloud-credentials'
    ``parameter_helper.compose_string_to_sign`` does with ``quote_plus``.
    """

    def encode(text: str) -> str:
        encoded = rpc_percent_encode(text)
        return encoded.replace("%20", "+") if space_as_plus else encoded

    canonical = "&".join(
        f"{encode(key)}={encode(params[key])}" for key in sorted(params) if key != "Signature"
    )
    return f"{method}&{rpc_percent_encode('/')}&{rpc_percent_encode(canonical)}"


def _rpc_timestamp(value: str) -> datetime:
    for layout in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            return datetime.strptime(value, layout).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise _bad_timestamp("Timestamp must look like 2024-01-02T03:04:05Z.")


class RpcVerifier:
    """The RPC (V1) signature: HMAC-SHA1 over the sorted query and form parameters.

    As alibabacloud-credentials' RAM-role provider (``provider/ram_role_arn.py``
    ``_refresh_credentials``: GET, every parameter in the query) and tea-openapi
    ``do_rpcrequest`` (``Utils.get_rpcsignature``: query plus form body) sign. The parameters
    ``AccessKeyId``, ``SignatureMethod=HMAC-SHA1``, ``SignatureVersion=1.0``,
    ``SignatureNonce`` and ``Timestamp`` (UTC ISO 8601) are required; an STS key sends its
    token as ``SecurityToken``. The key is the secret plus ``&``.
    """

    name = FLAVOUR_RPC
    label = "HMAC-SHA1 (RPC)"

    def __init__(self, checks: KeyChecks) -> None:
        self._checks = checks

    @staticmethod
    def claims(params: dict[str, str]) -> bool:
        """Whether the parameters carry an RPC signature."""
        return "Signature" in params

    def verify(self, req: ReceivedRequest, params: dict[str, str]) -> Caller:
        """Verify the request; return the caller or raise ApiError."""
        checks = self._checks
        now = checks.now()
        for name in ("AccessKeyId", "SignatureMethod", "SignatureVersion", "SignatureNonce"):
            if not params.get(name):
                raise missing_parameter(name)
        if params["SignatureMethod"] != "HMAC-SHA1":
            raise incomplete_signature("SignatureMethod must be HMAC-SHA1.")
        if params["SignatureVersion"] != "1.0":
            raise incomplete_signature("SignatureVersion must be 1.0.")
        record = checks.key(params["AccessKeyId"])
        used_token = checks.token(record, params.get("SecurityToken"), now)
        if not params.get("Timestamp"):
            raise _bad_timestamp("The Timestamp parameter is missing.")
        checks.skew(_rpc_timestamp(params["Timestamp"]), now)

        secret = (record.access_key_secret + "&").encode("utf-8")
        primary = rpc_string_to_sign(req.method, params)
        candidates = [primary]
        if any(" " in key or " " in value for key, value in params.items()):
            candidates.append(rpc_string_to_sign(req.method, params, space_as_plus=True))
        for candidate in candidates:
            digest = hmac.new(secret, candidate.encode("utf-8"), hashlib.sha1).digest()
            if hmac.compare_digest(base64.b64encode(digest).decode("ascii"), params["Signature"]):
                break
        else:
            raise _signature_mismatch(primary)
        checks.nonce_value(record.access_key_id, params["SignatureNonce"], now)
        return Caller(record.access_key_id, record.account_id, self.name, used_token)


#: Every scheme the emulator knows, in detection order (botocore's AUTH_TYPE_MAPS pattern).
AUTH_SCHEMES: dict[str, type[SchemeVerifier]] = {
    FLAVOUR_V3: V3Verifier,
    FLAVOUR_TEA_V2: TeaV2RoaVerifier,
    FLAVOUR_ROA: LegacyRoaVerifier,
}

#: Per product, the schemes its official SDKs send (evidence in emulator/README.md).
#: EDAS: alibabacloud-edas20170801 signs V3 by default and tea v2 with
#: ``signature_algorithm='v2'``; aliyun-python-sdk-edas signs legacy ROA.
#: Web+: aliyun-python-sdk-webplus signs legacy ROA; alibabacloud-webplus20190320 calls
#: ``do_roarequest``/``do_roarequest_with_form`` directly, so it signs tea v2 whatever the
#: configuration. No official Web+ SDK signs V3.
#: SAE: alibabacloud-sae20190506 sends every operation through ``call_api`` (V3 by default,
#: tea v2 with ``signature_algorithm='v2'``); aliyun-python-sdk-sae signs legacy ROA.
SCHEMES_BY_PRODUCT: dict[str, tuple[str, ...]] = {
    "edas": (FLAVOUR_V3, FLAVOUR_TEA_V2, FLAVOUR_ROA),
    "webplus": (FLAVOUR_ROA, FLAVOUR_TEA_V2),
    "sae": (FLAVOUR_V3, FLAVOUR_TEA_V2, FLAVOUR_ROA),
    # STS (RPC style): alibabacloud-sts20150401 signs V3 through ``call_api`` by default;
    # the RPC (V1) signature, which has no Authorization header, is verified by
    # :class:`RpcVerifier` (see :meth:`SignatureVerifier.verify_rpc`).
    "sts": (FLAVOUR_V3,),
}


def unsupported_scheme(scheme: type[SchemeVerifier], allowed: tuple[str, ...]) -> ApiError:
    """400 IncompleteSignature: a known scheme this product's API does not accept."""
    accepted = sorted({AUTH_SCHEMES[name].label for name in allowed})
    return incomplete_signature(
        f"This API does not accept {scheme.label} signatures; sign with "
        + " or ".join(accepted)
        + "."
    )


class SignatureVerifier:
    """Picks the scheme a request claims, refuses one its product does not accept, verifies."""

    def __init__(
        self,
        lookup: Callable[[str], KeyRecord | None],
        nonces: NonceStore | None = None,
        clock: Callable[[], float] = time.time,
        max_skew_s: float = MAX_CLOCK_SKEW_S,
        schemes_by_product: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        checks = KeyChecks(lookup, nonces, clock, max_skew_s)
        self._verifiers = {name: cls(checks) for name, cls in AUTH_SCHEMES.items()}
        self._rpc = RpcVerifier(checks)
        self._by_product = schemes_by_product or SCHEMES_BY_PRODUCT

    def verify_rpc(self, req: ReceivedRequest, params: dict[str, str]) -> Caller:
        """Verify an RPC (V1) signature carried in the query and form parameters."""
        return self._rpc.verify(req, params)

    @staticmethod
    def scheme_of(req: ReceivedRequest) -> type[SchemeVerifier] | None:
        """The scheme the request claims (None if unsigned or unknown)."""
        return next((cls for cls in AUTH_SCHEMES.values() if cls.claims(req)), None)

    @staticmethod
    def detect_flavour(req: ReceivedRequest) -> str | None:
        """The claimed scheme's name (None if unsigned or unknown), for the journal."""
        scheme = SignatureVerifier.scheme_of(req)
        return scheme.name if scheme else None

    @staticmethod
    def claimed_access_key_id(req: ReceivedRequest) -> str | None:
        """The access key id the request claims, parsed leniently (for the journal)."""
        scheme = SignatureVerifier.scheme_of(req)
        return scheme.claimed_access_key_id(req) if scheme else None

    def verify(self, req: ReceivedRequest, product: str) -> Caller:
        """Verify the request's signature for ``product``; return the caller or raise."""
        scheme = self.scheme_of(req)
        if scheme is None:
            if req.header("Authorization") is None:
                raise incomplete_signature("The Authorization header is missing.")
            raise incomplete_signature("The Authorization header has an unknown scheme.")
        allowed = self._by_product[product]
        if scheme.name not in allowed:
            raise unsupported_scheme(scheme, allowed)
        return self._verifiers[scheme.name].verify(req)


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
