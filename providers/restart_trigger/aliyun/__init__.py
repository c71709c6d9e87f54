"""Alibaba Cloud client for restart-trigger: what its runtime callers use.

The modules and what each knows are listed once, in docs/ARCHITECTURE.md.

Runtime dependencies are ``requests`` and the standard library only; importing this package
loads neither ``pulumi`` nor ``grpc``.
"""

from collections.abc import Mapping
from typing import Any

from .auth import AcsRoaSha1Auth, AcsV3Auth
from .client import AliyunClient, RestartResult
from .credential_types import Credentials, CredentialsError, CredentialsSource
from .credentials import check_credential_config, resolve_settings
from .endpoints import MAX_REGION_LENGTH, PRODUCTS, validate_endpoint, validate_region
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
from .settings import CONFIG_KEYS, parse_endpoints
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
    "CredentialsSource",
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
    "client_for_trigger",
    "parse_endpoints",
    "resolve_settings",
    "validate_endpoint",
    "validate_region",
    "MAX_REGION_LENGTH",
]


def client_for_trigger(
    stack_config: Mapping[str, Any],
    *,
    region: str | None,
    endpoint: str | None,
    deadline: Any,
) -> AliyunClient:
    """The client one trigger's calls go through: credentials, region and endpoints from
    ``stack_config`` (the ``alicloud:*`` settings, environment fallbacks applied by
    ``resolve_settings``), the trigger's own ``region`` and ``endpoint`` winning, bounded by
    the trigger's ``deadline``. Both front doors build their client here."""
    settings = resolve_settings(stack_config)
    endpoints = dict(settings.endpoints or {})
    if endpoint:
        endpoints = {product: endpoint for product in PRODUCTS}
    return AliyunClient(
        settings.credentials,
        region=region or settings.region,
        endpoints=endpoints or None,
        deadline=deadline,
    )
