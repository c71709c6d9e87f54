"""STS (Security Token Service, API version 2015-04-01): AssumeRole and AssumeRoleWithOIDC.

RPC style, as ``sts.aliyuncs.com`` answers: ``GET`` or ``POST /`` with ``Action`` and
``Version`` as parameters (or, for V3 signing, the ``x-acs-action`` / ``x-acs-version``
headers). Parameters are read from the query and the form body alike, as the RPC gateway
does. AssumeRole must be signed (the RPC V1 signature, or ACS3-HMAC-SHA256);
AssumeRoleWithOIDC is anonymous, its OIDC token is the credential.

Issued credentials are ``STS.``-prefixed access keys with a secret and a security token, kept
in the world like any key until they expire (``Expiration``); the product endpoints then
refuse them with ``InvalidSecurityToken.Expired``. ``sts.credential_lifetime_s`` in the seed
overrides ``DurationSeconds`` so tests can see them expire within seconds.

Error codes and statuses come from the STS API reference (AssumeRole: ``InvalidParameter.*``,
403 ``NoPermission``, 404 ``EntityNotExist.Role``) and its error-code page
(AssumeRoleWithOIDC: 401 ``AuthenticationFail.*``); see emulator/README.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from emulator.errors import ApiError, api_not_found, invalid_version, missing_parameter
from emulator.signatures import Caller, ReceivedRequest
from emulator.state import (
    OIDC_PROVIDER_ARN_RE,
    ROLE_ARN_RE,
    Account,
    OidcProvider,
    RamRole,
    World,
)

PRODUCT = "sts"
API_VERSION = "2015-04-01"
ASSUME_ROLE = "AssumeRole"
ASSUME_ROLE_WITH_OIDC = "AssumeRoleWithOIDC"
ACTIONS = (ASSUME_ROLE, ASSUME_ROLE_WITH_OIDC)
#: Actions that take no signature (the OIDC token is the credential).
ANONYMOUS_ACTIONS = frozenset({ASSUME_ROLE_WITH_OIDC})

MIN_DURATION_S = 900
DEFAULT_DURATION_S = 3600
#: RoleSessionName: 2-64 of letters, digits, ``. @ - _`` (alibabacloud-sts20150401 model docs;
#: older docs said 2-32).
SESSION_NAME_RE = re.compile(r"^[A-Za-z0-9.@\-_]{2,64}$")
#: ExternalId: 2-1224 of ``[\w+=,.@:/-]`` (alibabacloud-sts20150401 AssumeRoleRequest docs).
EXTERNAL_ID_RE = re.compile(r"^[\w+=,.@:/\-]{2,1224}$")
MAX_POLICY_LENGTH = 2048
#: OIDC tokens are 4 to 20,000 characters (AssumeRoleWithOIDC API reference).
MIN_OIDC_TOKEN, MAX_OIDC_TOKEN = 4, 20000

ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"


def iso_utc(epoch_s: float) -> str:
    """``2026-12-01T10:00:00Z``: the whole seconds of an epoch time, in UTC."""
    return datetime.fromtimestamp(int(epoch_s), UTC).strftime(ISO_UTC)


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def _invalid(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


def _role_arn_malformed() -> ApiError:
    return _invalid("InvalidParameter.RoleArn", "The parameter RoleArn is wrongly formed.")


def _role_not_found() -> ApiError:
    return ApiError(404, "EntityNotExist.Role", "The specified Role not exists.")


def _no_permission(detail: str = "") -> ApiError:
    message = "You are not authorized to do this action. You should be authorized by RAM."
    return ApiError(403, "NoPermission", message + (f" {detail}" if detail else ""))


def _oidc_error(code: str, message: str) -> ApiError:
    return ApiError(401, code, message)


def _oidc_invalid(message: str) -> ApiError:
    return _oidc_error("AuthenticationFail.OIDCToken.Invalid", message)


# --------------------------------------------------------------------------------------------
# Route: the action and version a request names
# --------------------------------------------------------------------------------------------


def route(req: ReceivedRequest, params: dict[str, str]) -> str:
    """The STS action the request names, or the gateway's error.

    ``Action`` / ``Version`` come from the parameters (RPC V1, anonymous) or the
    ``x-acs-action`` / ``x-acs-version`` headers (V3); if both are sent they must agree.
    """
    action = params.get("Action") or req.header("x-acs-action")
    header_action = req.header("x-acs-action")
    if not action:
        raise missing_parameter("Action")
    if header_action and params.get("Action") and header_action != params["Action"]:
        raise api_not_found()
    if action not in ACTIONS:
        raise api_not_found()
    version = params.get("Version") or req.header("x-acs-version")
    if not version:
        raise missing_parameter("Version")
    header_version = req.header("x-acs-version")
    if version != API_VERSION or (header_version and header_version != API_VERSION):
        raise invalid_version()
    return action


# --------------------------------------------------------------------------------------------
# One call
# --------------------------------------------------------------------------------------------


@dataclass
class StsCall:
    """One STS call after route and signature: ``caller`` is None for an anonymous one.

    ``journal`` collects the role, session and issued key id for the journal entry.
    """

    world: World
    caller: Caller | None
    params: dict[str, str]
    now: float
    journal: dict[str, Any] = field(default_factory=dict)

    def required(self, name: str) -> str:
        """A required parameter, or 400 MissingParameter."""
        value = self.params.get(name)
        if value is None or value.strip() == "":
            raise missing_parameter(name)
        return value.strip()


def _role_arn(call: StsCall) -> str:
    arn = call.required("RoleArn")
    call.journal["role_arn"] = arn
    if not ROLE_ARN_RE.match(arn):
        raise _role_arn_malformed()
    return arn.lower()


def _session_name(call: StsCall) -> str:
    name = call.required("RoleSessionName")
    call.journal["role_session_name"] = name
    if not SESSION_NAME_RE.match(name):
        raise _invalid(
            "InvalidParameter.RoleSessionName", "The parameter RoleSessionName is wrongly formed."
        )
    return name


def _duration(call: StsCall) -> int | None:
    raw = call.params.get("DurationSeconds")
    if raw is None or raw == "":
        return None
    try:
        return int(raw.strip())
    except ValueError:
        raise _invalid(
            "InvalidParameter.DurationSeconds", "The parameter DurationSeconds is wrongly formed."
        ) from None


def _check_duration(duration: int | None, role: RamRole) -> int:
    value = DEFAULT_DURATION_S if duration is None else duration
    if value < MIN_DURATION_S or value > role.max_session_duration_s:
        hours = role.max_session_duration_s // 3600
        raise _invalid(
            "InvalidParameter.DurationSeconds",
            f"The Min/Max value of DurationSeconds is 15min/{hours}hr.",
        )
    return value


def _check_policy(call: StsCall) -> None:
    policy = call.params.get("Policy")
    if policy is None or policy == "":
        return
    if len(policy) > MAX_POLICY_LENGTH:
        raise _invalid(
            "InvalidParameter.PolicySize",
            f"The size of Policy must be smaller than {MAX_POLICY_LENGTH} bytes.",
        )
    try:
        document = json.loads(policy)
    except ValueError:
        document = None
    statements = document.get("Statement") if isinstance(document, dict) else None
    if not isinstance(statements, list) or not statements or "Version" not in document:
        raise _invalid(
            "InvalidParameter.PolicyGrammar", "The parameter Policy has not passed grammar check."
        )


def _role(call: StsCall, arn: str) -> RamRole:
    role = call.world.roles.get(arn)
    if role is None:
        raise _role_not_found()
    return role


# --------------------------------------------------------------------------------------------
# Issuing credentials
# --------------------------------------------------------------------------------------------

_ALNUM = string.ascii_letters + string.digits


def _random_text(length: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def role_id(role: RamRole) -> str:
    """The role's numeric id (seeded ``role_id``, else derived from its ARN)."""
    if role.role_id:
        return role.role_id
    digest = int(hashlib.sha256(role.arn.encode("utf-8")).hexdigest(), 16)
    return str(digest)[:19]


def issue(
    world: World,
    *,
    account_id: str,
    role_arn: str,
    session_name: str,
    lifetime_s: float,
    now: float,
    issued_by: str,
) -> Account:
    """Create a temporary key for ``account_id`` that lives ``lifetime_s`` seconds from ``now``.

    Call with the world lock held.
    """
    token = "CAIS" + base64.b64encode(secrets.token_bytes(180)).decode("ascii")
    account = Account(
        access_key_id="STS." + _random_text(28),
        access_key_secret=_random_text(44),
        account_id=account_id,
        security_token=token,
        security_token_expires_at=now + lifetime_s,
        name=f"{issued_by}:{session_name}",
        issued_by=issued_by,
        role_arn=role_arn,
        role_session_name=session_name,
        issued_at=now,
    )
    world.accounts[account.access_key_id] = account
    return account


def _lifetime(world: World, duration_s: int) -> float:
    override = world.sts.credential_lifetime_s
    return float(override) if override is not None else float(duration_s)


def credentials_body(account: Account) -> dict[str, str]:
    """The ``Credentials`` object of an STS answer."""
    assert account.security_token is not None
    assert account.security_token_expires_at is not None
    return {
        "AccessKeyId": account.access_key_id,
        "AccessKeySecret": account.access_key_secret,
        "SecurityToken": account.security_token,
        "Expiration": iso_utc(account.security_token_expires_at),
    }


def _assumed_role_user(role: RamRole, session_name: str) -> dict[str, str]:
    return {
        "Arn": f"acs:ram::{role.account_id}:role/{role.name}/{session_name}",
        "AssumedRoleId": f"{role_id(role)}:{session_name}",
    }


# --------------------------------------------------------------------------------------------
# AssumeRole
# --------------------------------------------------------------------------------------------


def assume_role(call: StsCall) -> dict[str, Any]:
    """AssumeRole: signed by a key of an account the role trusts."""
    assert call.caller is not None
    arn = _role_arn(call)
    session_name = _session_name(call)
    duration = _duration(call)
    _check_policy(call)
    external_id = call.params.get("ExternalId")
    if external_id and not EXTERNAL_ID_RE.match(external_id):
        raise _invalid("InvalidParameter.ExternalId", "The parameter ExternalId is wrongly formed.")
    world = call.world
    with world.lock:
        role = _role(call, arn)
        trusted = role.trusted_account_ids
        if call.caller.account_id not in (trusted if trusted is not None else [role.account_id]):
            raise _no_permission("The role does not trust the caller's account.")
        if role.external_id is not None and external_id != role.external_id:
            raise _no_permission("The ExternalId does not match the role's.")
        duration_s = _check_duration(duration, role)
        account = issue(
            world,
            account_id=role.account_id,
            role_arn=role.arn,
            session_name=session_name,
            lifetime_s=_lifetime(world, duration_s),
            now=call.now,
            issued_by=ASSUME_ROLE,
        )
    call.journal["issued_access_key_id"] = account.access_key_id
    body: dict[str, Any] = {
        "Credentials": credentials_body(account),
        "AssumedRoleUser": _assumed_role_user(role, session_name),
    }
    source_identity = call.params.get("SourceIdentity")
    if source_identity:
        body["SourceIdentity"] = source_identity
    return body


# --------------------------------------------------------------------------------------------
# AssumeRoleWithOIDC
# --------------------------------------------------------------------------------------------


def _b64url_json(part: str) -> Any:
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        return json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise _oidc_invalid("Cannot decode base64 encoded response(format invalided).") from None


def verify_oidc_token(token: str, provider: OidcProvider, now: float) -> dict[str, Any]:
    """Check an HS256 JWT against the provider: signature, ``iss``, ``aud``, ``exp``."""
    if not token:
        raise _oidc_invalid("The OIDCToken can not empty.")
    if not MIN_OIDC_TOKEN <= len(token) <= MAX_OIDC_TOKEN:
        raise _oidc_invalid("The OIDCToken must be 4 to 20000 characters long.")
    parts = token.split(".")
    if len(parts) != 3:
        raise _oidc_invalid("The number of Jwt field should be divided into 3 parts with '.' .")
    header, claims = _b64url_json(parts[0]), _b64url_json(parts[1])
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise _oidc_invalid("The Jwt content is invalid that cannot be recognized.")
    algorithm = header.get("alg")
    if algorithm != "HS256":
        raise _oidc_invalid(
            f"The algorithm {algorithm} that be specified in Jwt header is unknown."
        )
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii", errors="replace")
    expected = hmac.new(provider.hs256_key.encode("utf-8"), signing_input, hashlib.sha256).digest()
    try:
        received = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
    except ValueError:
        received = b""
    if not hmac.compare_digest(expected, received):
        raise _oidc_error(
            "AuthenticationFail.OIDCToken.InvalidSignature",
            "OIDC token validate failed: invalid signature.",
        )
    if claims.get("iss") != provider.issuer_url:
        raise _oidc_error("AuthenticationFail.OIDCToken.IssuerNotMatch", "Invalid issuer.")
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if not any(isinstance(a, str) and a in provider.client_ids for a in audiences):
        raise _oidc_error("AuthenticationFail.OIDCToken.AudienceNotMatch", "Invalid audience.")
    expires = claims.get("exp")
    if not isinstance(expires, int | float) or isinstance(expires, bool):
        raise _oidc_invalid("The Jwt content is invalid that cannot be recognized.")
    if now >= expires:
        raise _oidc_error("AuthenticationFail.OIDCToken.Expired", "This JsonWebToken is expired.")
    not_before = claims.get("nbf")
    if isinstance(not_before, int | float) and now < not_before:
        raise _oidc_invalid("The Jwt content is invalid that cannot be recognized.")
    return claims


def assume_role_with_oidc(call: StsCall) -> dict[str, Any]:
    """AssumeRoleWithOIDC: anonymous; the OIDC token, checked against the provider, is the
    credential, and the role must trust the provider."""
    arn = _role_arn(call)
    provider_arn = call.required("OIDCProviderArn")
    token = call.params.get("OIDCToken") or ""
    session_name = _session_name(call)
    duration = _duration(call)
    _check_policy(call)
    world = call.world
    with world.lock:
        provider = world.oidc_providers.get(provider_arn)
        if provider is None or not OIDC_PROVIDER_ARN_RE.match(provider_arn):
            raise _oidc_error(
                "AuthenticationFail.NoPermission", "No such OIDC Provider registered."
            )
        claims = verify_oidc_token(token, provider, call.now)
        role = _role(call, arn)
        trusted = role.trusted_oidc_provider_arns
        if provider.account_id != role.account_id or (
            trusted is not None and provider.arn not in trusted
        ):
            raise _oidc_error("AuthenticationFail.NoPermission", "There is no permission")
        duration_s = _check_duration(duration, role)
        account = issue(
            world,
            account_id=role.account_id,
            role_arn=role.arn,
            session_name=session_name,
            lifetime_s=_lifetime(world, duration_s),
            now=call.now,
            issued_by=ASSUME_ROLE_WITH_OIDC,
        )
    call.journal["issued_access_key_id"] = account.access_key_id
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    issued_at = claims.get("iat")
    return {
        "Credentials": credentials_body(account),
        "AssumedRoleUser": _assumed_role_user(role, session_name),
        "OIDCTokenInfo": {
            "Subject": str(claims.get("sub", "")),
            "Issuer": provider.issuer_url,
            "ClientIds": ",".join(str(a) for a in audiences),
            "ExpirationTime": iso_utc(claims["exp"]),
            "IssuanceTime": iso_utc(issued_at) if isinstance(issued_at, int | float) else "",
            "VerificationInfo": "Success",
        },
    }


HANDLERS = {ASSUME_ROLE: assume_role, ASSUME_ROLE_WITH_OIDC: assume_role_with_oidc}
