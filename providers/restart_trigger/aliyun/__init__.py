"""Alibaba Cloud client for restart-trigger: signing, endpoints, retries, typed errors, credentials.

Runtime dependencies are ``requests`` and the standard library only.
"""

from .auth import AcsV3Auth
from .client import AliyunClient, RestartResult, parse_time
from .credentials import Credentials, CredentialsError, ResolvedSettings, resolve_settings
from .endpoints import default_endpoint, resolve_endpoints, validate_endpoint
from .errors import (
    AliyunError,
    AuthError,
    BusinessError,
    InvalidResponseError,
    NotFoundError,
    RestartOutcomeUnknown,
    ServerError,
    ThrottlingError,
    TransportError,
)
from .retry import RetryPolicy

__all__ = [
    "AcsV3Auth",
    "AliyunClient",
    "AliyunError",
    "AuthError",
    "BusinessError",
    "Credentials",
    "CredentialsError",
    "InvalidResponseError",
    "NotFoundError",
    "ResolvedSettings",
    "RestartOutcomeUnknown",
    "RestartResult",
    "RetryPolicy",
    "ServerError",
    "ThrottlingError",
    "TransportError",
    "default_endpoint",
    "parse_time",
    "resolve_endpoints",
    "resolve_settings",
    "validate_endpoint",
]
