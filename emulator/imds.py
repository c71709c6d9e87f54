"""The ECS instance metadata service (``http://100.100.100.200`` on a real instance), the part
alibabacloud-credentials' ECS RAM-role provider reads:

* ``PUT /latest/api/token`` with ``X-aliyun-ecs-metadata-token-ttl-seconds`` (1-21600) answers
  a metadata token (hardened mode);
* ``GET /latest/meta-data/ram/security-credentials/`` answers the instance role's name;
* ``GET /latest/meta-data/ram/security-credentials/<role>`` answers its temporary credentials
  ``{"AccessKeyId","AccessKeySecret","SecurityToken","Expiration","LastUpdated","Code"}``.

Reads carry the token in ``X-aliyun-ecs-metadata-token``; with ``ecs_metadata.tokens_required``
(the default) a read without one is 401, as is a read with an unknown or expired one. The
credentials are issued like STS's (they are accepted by the product endpoints until they
expire) and renewed once the current ones are past half their lifetime.

Paths and headers are those of ``alibabacloud_credentials/provider/ecs_ram_role.py``. The
statuses of refusals (400 bad TTL, 401 token missing or invalid, 403 ``X-Forwarded-For`` on a
token request, 404 unknown role) follow the IMDSv2 convention; Alibaba's are undocumented.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass

from emulator import sts
from emulator.signatures import ReceivedRequest
from emulator.state import (
    IMDS_DEFAULT_CREDENTIAL_LIFETIME_S,
    IMDS_MAX_TOKEN_TTL_S,
    Account,
    World,
)

PRODUCT = "imds"
PREFIX = "/latest/"
TOKEN_PATH = "/latest/api/token"
CREDENTIALS_PATH = "/latest/meta-data/ram/security-credentials"
TTL_HEADER = "X-aliyun-ecs-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aliyun-ecs-metadata-token"

GET_TOKEN = "GetMetadataToken"
LIST_ROLES = "ListRamRoles"
GET_CREDENTIALS = "GetRamRoleCredentials"
ISSUED_BY = "EcsMetadata"


@dataclass
class Answer:
    """A metadata answer: status, a text body, and what the journal should know."""

    status: int
    body: str
    action: str | None = None
    content_type: str = "text/plain"
    role_arn: str | None = None
    issued_access_key_id: str | None = None

    @property
    def code(self) -> str | None:
        """The journal's ``code``: None for a success, else the status's reason."""
        return None if self.status == 200 else _REASONS.get(self.status, str(self.status))


_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
}


def _error(status: int, action: str | None, detail: str) -> Answer:
    return Answer(status, f"{_REASONS[status]}: {detail}\n", action)


class MetadataTokens:
    """Metadata tokens in memory, with their expiry (not persisted: a restart forgets them)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}

    def issue(self, ttl_s: int, now: float) -> str:
        """A new token valid for ``ttl_s`` seconds."""
        token = secrets.token_urlsafe(42)
        with self._lock:
            self._tokens = {t: e for t, e in self._tokens.items() if e > now}
            self._tokens[token] = now + ttl_s
        return token

    def valid(self, token: str, now: float) -> bool:
        """Whether ``token`` was issued here and has not expired."""
        with self._lock:
            expires = self._tokens.get(token)
        return expires is not None and now < expires

    def clear(self) -> None:
        """Forget every token."""
        with self._lock:
            self._tokens.clear()


def lifetime_s(world: World) -> float:
    """How long instance-role credentials live."""
    meta = world.ecs_metadata
    if meta.credential_lifetime_s is not None:
        return float(meta.credential_lifetime_s)
    if world.sts.credential_lifetime_s is not None:
        return float(world.sts.credential_lifetime_s)
    return IMDS_DEFAULT_CREDENTIAL_LIFETIME_S


def current_credentials(world: World, now: float) -> Account:
    """The instance role's credentials: the current ones until they are past half their
    life, then new ones. Call with the world lock held."""
    meta = world.ecs_metadata
    assert meta.role_arn is not None and meta.role_name is not None
    current = world.accounts.get(meta.current_access_key_id or "")
    if current is not None and current.role_arn == meta.role_arn:
        issued = current.issued_at or 0.0
        expires = current.security_token_expires_at or 0.0
        if now < issued + (expires - issued) / 2:
            return current
    account = sts.issue(
        world,
        account_id=meta.account_id,
        role_arn=meta.role_arn,
        session_name=meta.role_name,
        lifetime_s=lifetime_s(world),
        now=now,
        issued_by=ISSUED_BY,
    )
    meta.current_access_key_id = account.access_key_id
    return account


def handle(world: World, tokens: MetadataTokens, req: ReceivedRequest, now: float) -> Answer:
    """Answer one metadata request (``req.path`` starts with ``/latest/``)."""
    path = req.path
    if path == TOKEN_PATH:
        if req.method != "PUT":
            return _error(405, GET_TOKEN, "the token is requested with PUT")
        if req.header("X-Forwarded-For") is not None:
            return _error(403, GET_TOKEN, "a token request must not be forwarded")
        raw = (req.header(TTL_HEADER) or "").strip()
        try:
            ttl = int(raw)
        except ValueError:
            ttl = 0
        if not 1 <= ttl <= IMDS_MAX_TOKEN_TTL_S:
            return _error(400, GET_TOKEN, f"{TTL_HEADER} must be an integer in 1-21600")
        return Answer(200, tokens.issue(ttl, now), GET_TOKEN)

    if path.rstrip("/") != CREDENTIALS_PATH and not path.startswith(CREDENTIALS_PATH + "/"):
        return _error(404, None, "no such metadata")
    role_name = path[len(CREDENTIALS_PATH) :].strip("/")
    action = GET_CREDENTIALS if role_name else LIST_ROLES
    if req.method != "GET":
        return _error(405, action, "metadata is read with GET")
    token = req.header(TOKEN_HEADER)
    with world.lock:
        meta = world.ecs_metadata
        if token is not None:
            if not tokens.valid(token, now):
                return _error(401, action, "the metadata token is invalid or expired")
        elif meta.tokens_required:
            return _error(401, action, f"this instance requires {TOKEN_HEADER}")
        if meta.role_name is None:
            return _error(404, action, "the instance has no RAM role")
        if not role_name:
            return Answer(200, meta.role_name, action)
        if role_name != meta.role_name:
            return _error(404, action, f"no RAM role {role_name!r} on this instance")
        account = current_credentials(world, now)
        world.save()
    assert account.security_token is not None and account.issued_at is not None
    body = {
        **sts.credentials_body(account),
        "LastUpdated": sts.iso_utc(account.issued_at),
        "Code": "Success",
    }
    return Answer(
        200,
        json.dumps(body),
        action,
        content_type="text/plain",
        role_arn=account.role_arn,
        issued_access_key_id=account.access_key_id,
    )
