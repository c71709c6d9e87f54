"""Specs: what credentials to build, as frozen (hashable) values.

A loader of the chain (``credentials.LOADERS``) or a profile (``profiles``) gives a spec;
``sources.provider_for`` builds the credentials source from it, one per distinct spec in the
process (the spec is the cache key), so equal settings share a provider. A spec's fields are
its provider's keyword arguments, by the same names (``sources.build``), except those marked
``SPEC_ONLY``. Specs hold secrets: their ``repr`` is ``describe``, which shows none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .credential_types import Credentials

SPEC_ONLY = {"argument": False}
"""Metadata of a field that is not its provider's argument."""


@dataclass(frozen=True, repr=False)
class AccessKey:
    """A key pair as it is (stack config, environment, an ``AK`` or ``StsToken`` profile)."""

    credentials: Credentials
    source: str

    def __repr__(self) -> str:
        return f"AccessKey({describe(self)!r})"


@dataclass(frozen=True, repr=False)
class EcsRole:
    """The instance RAM role ``role_name``, from the metadata service at ``endpoint``."""

    role_name: str
    endpoint: str
    source: str

    def __repr__(self) -> str:
        return f"EcsRole({describe(self)!r})"


@dataclass(frozen=True, repr=False)
class Oidc:
    """STS ``AssumeRoleWithOIDC``. As read from stack config, ``role_arn`` and
    ``oidc_provider_arn`` may be missing and ``sts_endpoint`` is not known yet (``""``)."""

    role_arn: str | None
    oidc_provider_arn: str | None
    token: str | None
    token_file: str | None
    session_name: str
    duration: int
    policy: str | None
    sts_endpoint: str
    source: str
    token_file_key: str | None = field(default=None, compare=False, metadata=SPEC_ONLY)
    """The key that gave ``token_file`` (what a preview names when it cannot be read)."""

    def __repr__(self) -> str:
        return f"Oidc({describe(self)!r})"


@dataclass(frozen=True, repr=False)
class AssumeRole:
    """STS ``AssumeRole`` signed with ``base``'s credentials. As read from stack config,
    ``base`` is ``None``, ``role_arn`` may be missing and ``sts_endpoint`` is ``""``."""

    base: Spec | None
    """What signs the call (``None`` until the chain puts the role on top of its base)."""
    role_arn: str | None
    session_name: str
    duration: int
    policy: str | None
    external_id: str | None
    sts_endpoint: str
    source: str
    from_profile: bool = field(default=False, metadata=SPEC_ONLY)
    """A ``RamRoleArn`` profile's own role, which ``alicloud:assumeRole`` replaces."""

    def __repr__(self) -> str:
        return f"AssumeRole({describe(self)!r})"


Spec = AccessKey | EcsRole | Oidc | AssumeRole


def describe(spec: Spec) -> str:
    """Where the credentials come from, without a secret (``ResolvedSettings.source``)."""
    if isinstance(spec, AssumeRole):
        on = "" if spec.base is None else f" on {describe(spec.base)}"
        return f"{spec.source} (role {spec.role_arn}){on}"
    if isinstance(spec, Oidc):
        return f"{spec.source} (role {spec.role_arn})"
    if isinstance(spec, EcsRole):
        return f"{spec.source} (role {spec.role_name})"
    return spec.source
