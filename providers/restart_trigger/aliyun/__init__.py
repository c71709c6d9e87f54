"""Alibaba Cloud client for restart-trigger: what its runtime callers use.

Modules: ``auth`` (V3 and ROA HMAC-SHA1 signing), ``endpoints`` (per-region hosts,
validation), ``errors`` (typed errors), ``retryable`` (which failures are retried),
``credentials`` (the credential chain and ``CONFIG_KEYS``), ``sources`` (temporary
credentials from a RAM role, OIDC or the ECS role, renewed before they expire), ``sts`` (the
STS and instance-metadata calls they make), ``transport`` (one bounded, signed
attempt), ``recovery`` (which new restart, if any, is the one whose answer was lost),
``client`` (the operation and signer tables, one method per operation).

Runtime dependencies are ``requests`` and the standard library only; importing this package
loads neither ``pulumi`` nor ``grpc``.
"""

from .auth import AcsRoaSha1Auth, AcsV3Auth
from .client import AliyunClient, RestartResult
from .credentials import (
    CONFIG_KEYS,
    Credentials,
    CredentialsError,
    check_credential_config,
    parse_endpoints,
    resolve_settings,
)
from .endpoints import validate_endpoint, validate_region
from .errors import (
    AliyunError,
    AuthError,
    BusinessError,
    DeadlineExceeded,
    InvalidResponseError,
    NotFoundError,
    RestartOutcomeUnknown,
    ServerError,
    ThrottlingError,
    TransportError,
)
from .sources import CredentialsUnavailable

__all__ = [
    "CONFIG_KEYS",
    "AcsRoaSha1Auth",
    "AcsV3Auth",
    "AliyunClient",
    "AliyunError",
    "AuthError",
    "BusinessError",
    "Credentials",
    "CredentialsError",
    "CredentialsUnavailable",
    "DeadlineExceeded",
    "InvalidResponseError",
    "NotFoundError",
    "RestartOutcomeUnknown",
    "RestartResult",
    "ServerError",
    "ThrottlingError",
    "TransportError",
    "check_credential_config",
    "parse_endpoints",
    "resolve_settings",
    "validate_endpoint",
    "validate_region",
]
