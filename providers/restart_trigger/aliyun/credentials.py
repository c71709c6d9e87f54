# ruff: noqa: E501  (the precedence table below is copied verbatim into the README)
"""Credential chain: where the credentials, region and endpoint overrides come from.

What lives here: ``resolve_settings`` (the chain), ``Credentials``, ``parse_endpoints`` (the
``alicloud:endpoints`` value), ``check_credential_config`` (what a preview can judge), and
``CONFIG_KEYS``, the one list of stack config keys the chain reads, derived from the
``SETTINGS`` table the resolver itself uses.

Resolved at run time by ``resolve_settings``, in the provider process; nothing is written
anywhere. Static keys come back as a ``Credentials``; temporary ones as a credentials provider
(``sources``) that fetches them on first use and renews them before they expire. One provider
is kept per distinct setting in this process (``provider_for``), so 50 triggers share one
``AssumeRole``. The sources and names are those of the pulumi-alicloud provider (which wraps
terraform-provider-alicloud: its ``providerConfigure`` and ``RefreshAuthCredential``).

Base credentials (the first source that gives them wins, top to bottom):

| # | source | stack config | environment (in this order) | gives |
| --- | --- | --- | --- | --- |
| 1 | AccessKey pair | `alicloud:accessKey`, `alicloud:secretKey`, `alicloud:securityToken` (optional) | `ALICLOUD_ACCESS_KEY`, `ALIBABA_CLOUD_ACCESS_KEY_ID`, `ALIBABACLOUD_ACCESS_KEY_ID`; `ALICLOUD_SECRET_KEY`, `ALIBABA_CLOUD_ACCESS_KEY_SECRET`, `ALIBABACLOUD_ACCESS_KEY_SECRET`; `ALICLOUD_SECURITY_TOKEN`, `ALIBABA_CLOUD_SECURITY_TOKEN`, `ALIBABACLOUD_SECURITY_TOKEN` | the pair as it is |
| 2 | named profile | `alicloud:profile` (file: `alicloud:sharedCredentialsFile`) | `ALICLOUD_PROFILE`, `ALIBABA_CLOUD_PROFILE` (file: `ALICLOUD_SHARED_CREDENTIALS_FILE`, `ALIBABA_CLOUD_CREDENTIALS_FILE`, default `~/.aliyun/config.json`) | by its mode, below |
| 3 | ECS instance RAM role | `alicloud:ecsRoleName` | `ALICLOUD_ECS_ROLE_NAME`, `ALIBABA_CLOUD_ECS_METADATA` | metadata service, token first; renewed |
| 4 | OIDC role | `alicloud:assumeRoleWithOidc` {`oidcProviderArn`, `roleArn`, `oidcToken` or `oidcTokenFile`, `roleSessionName`, `sessionExpiration`, `policy`} | fields default to `ALIBABA_CLOUD_OIDC_PROVIDER_ARN`, `ALIBABA_CLOUD_ROLE_ARN`, `ALIBABA_CLOUD_OIDC_TOKEN`, `ALIBABA_CLOUD_OIDC_TOKEN_FILE`, `ALIBABA_CLOUD_ROLE_SESSION_NAME`; without the object, the three `ALIBABA_CLOUD_ROLE_ARN` + `ALIBABA_CLOUD_OIDC_PROVIDER_ARN` + `ALIBABA_CLOUD_OIDC_TOKEN_FILE` together (the SDKs' rule, as in ACK RRSA) | STS `AssumeRoleWithOIDC`; renewed, the token file re-read each time |
| 5 | current profile | (none) | the profile file's `current` profile, as the aliyun CLI does | by its mode, below |

Then, on top of whichever base was found:

| source | stack config | environment | gives |
| --- | --- | --- | --- |
| role to assume | `alicloud:assumeRole` {`roleArn`, `sessionName`, `sessionExpiration`, `policy`, `externalId`} | `roleArn`: `ALICLOUD_ASSUME_ROLE_ARN`, `ALIBABA_CLOUD_ROLE_ARN`; `sessionName`: `ALICLOUD_ASSUME_ROLE_SESSION_NAME`, `ALIBABA_CLOUD_ROLE_SESSION_NAME`; `sessionExpiration`: `ALICLOUD_ASSUME_ROLE_SESSION_EXPIRATION`; without the object, `ALICLOUD_ASSUME_ROLE_ARN` alone | STS `AssumeRole` signed with the base credentials; renewed |

Profile modes (aliyun CLI `config.json`): `AK` (`access_key_id`, `access_key_secret`),
`StsToken` (plus `sts_token`), `RamRoleArn` (an AK plus `ram_role_arn`, `ram_session_name`,
`expired_seconds`, optional `policy`, `external_id`: AssumeRole), `EcsRamRole`
(`ram_role_name`), `OIDC` (`ram_role_arn`, `oidc_provider_arn`, `oidc_token_file`,
`role_session_name` or `ram_session_name`, `expired_seconds`), `ChainableRamRoleArn`
(`source_profile`, whose credentials assume `ram_role_arn`; a chain holds at most
``MAX_CHAIN_DEPTH`` = 10 profiles and must not loop). A profile's `sts_region` picks its STS
endpoint.

Other settings:

| setting | stack config | environment | default |
| --- | --- | --- | --- |
| region | `alicloud:region` | `ALICLOUD_REGION`, `ALIBABA_CLOUD_REGION` | the profile's `region_id`, else `cn-beijing` |
| endpoints | `alicloud:endpoints` (`edas`, `webplus`, `sae`, `sts`) | (none) | each product's regional endpoint |
| STS endpoint | `alicloud:endpoints` `sts` key (HTTPS only) | (none) | `sts.<region>.aliyuncs.com` (a profile's `sts_region` for its roles) |
| metadata service | (none) | `RESTART_TRIGGER_ECS_METADATA_ENDPOINT` (ours: pulumi-alicloud has none) | `http://100.100.100.200` |
| session name | the objects' `sessionName` / `roleSessionName` | as above | `restart-trigger` |
| session lifetime | the objects' `sessionExpiration` (900 to 43200 s) | as above | 3600 s |

Rules:

* Stack config and environment are one layer, merged per setting exactly as the Terraform
  provider's ``DefaultFunc`` does: ``alicloud:accessKey`` may come from config while the secret
  comes from ``ALICLOUD_SECRET_KEY``; a field of ``alicloud:assumeRole`` left out comes from its
  environment variable.
* A half-set pair in config/env (only the id, or only the secret) is an error, not mixed with
  another source. A profile's credentials are taken as a unit. A profile named in config/env
  must exist; an unknown profile mode is an error naming the supported ones.
* As in Terraform, ``alicloud:assumeRole`` given with a ``RamRoleArn`` profile replaces the
  profile's role (its AccessKey assumes the configured role); with every other base it is
  assumed with the base's credentials. Terraform reads a profile only when one is named; the
  ``current`` profile (row 5) is our addition, and comes after every explicit source.
* The region's profile fallback uses the profile the credentials came from, or one named in
  config/env (an unusable one is then ignored); the final default ``cn-beijing`` is the
  Terraform provider's default region.
* ``alicloud:endpoints`` is pulumi-alicloud's list of objects, e.g. ``[{"edas": "..."}]``;
  a JSON string, a list or a single dict is accepted. Keys ``edas``, ``webplus``, ``sae`` and
  ``sts`` are used (EDAS Kubernetes applications are EDAS calls), other products are ignored.
  STS is spoken over HTTPS only (as Terraform and alibabacloud-credentials do), loopback too.
* Role ARNs must read ``acs:ram::<account id>:role/<name>`` and OIDC provider ARNs
  ``acs:ram::<account id>:oidc-provider/<name>``; ``check_credential_config`` refuses a
  malformed one, an unreadable ``oidcTokenFile`` and, in the profile run time would use (the
  named one, else the ``current`` one exactly when row 5 would be reached), an unknown mode,
  a ``source_profile`` loop or a chain longer than ``MAX_CHAIN_DEPTH``, or a profile file
  that is not JSON, at preview, naming the key; missing credentials never fail a preview.
* Stack config keys may be given with or without the ``alicloud:`` prefix; the objects may be
  given as JSON text, as an object, or as a list of one object.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .endpoints import PRODUCTS, validate_endpoint, validate_region
from .sts import METADATA_ENDPOINT

DEFAULT_REGION = "cn-beijing"
"""Region used when no source names one (the Terraform provider's default)."""

DEFAULT_PROFILE_PATH = "~/.aliyun/config.json"
"""aliyun CLI profile file read when no other path is configured."""

SUPPORTED_PROFILE_MODES = (
    "AK",
    "StsToken",
    "RamRoleArn",
    "EcsRamRole",
    "OIDC",
    "ChainableRamRoleArn",
)

MAX_CHAIN_DEPTH = 10
"""Most profiles a ``source_profile`` chain may hold, the selected one included: each
``ChainableRamRoleArn`` link is one ``AssumeRole`` call, so a longer chain is refused (at
preview and before any call) instead of being walked."""

DEFAULT_SESSION_NAME = "restart-trigger"
"""``RoleSessionName`` when none is configured (Terraform sends ``terraform``); it shows in
ActionTrail as who assumed the role."""
DEFAULT_SESSION_SECONDS = 3600
"""``DurationSeconds`` when none is configured (Terraform's and the SDKs' default)."""
SESSION_SECONDS_RANGE = (900, 43200)
"""Terraform's bounds of ``session_expiration`` (STS: 900 s up to the role's maximum)."""

METADATA_ENDPOINT_ENV = "RESTART_TRIGGER_ECS_METADATA_ENDPOINT"
"""Where the ECS metadata service is (default ``http://100.100.100.200``): ours, because
neither pulumi-alicloud nor the SDKs let it be configured; the emulator's tests use it."""

ROLE_ARN_RE = re.compile(r"^acs:ram::\d{1,32}:role/[A-Za-z0-9._\-]{1,64}$")
OIDC_PROVIDER_ARN_RE = re.compile(r"^acs:ram::\d{1,32}:oidc-provider/[A-Za-z0-9._\-]{1,128}$")
SESSION_NAME_RE = re.compile(r"^[A-Za-z0-9._@\-]{2,64}$")
ROLE_NAME_RE = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


@dataclass(frozen=True)
class Setting:
    """One row of the table above: its stack config key and environment variables.

    The resolver reads stack config only through these rows, so ``CONFIG_KEYS`` (what the
    provider must pass on from the engine's config) is every key it can read.
    """

    key: str
    """Stack config key without the ``alicloud:`` prefix, e.g. ``accessKey``."""
    env: tuple[str, ...] = ()
    """Environment variables, first wins."""

    @property
    def config_key(self) -> str:
        return f"alicloud:{self.key}"


ACCESS_KEY = Setting(
    "accessKey",
    ("ALICLOUD_ACCESS_KEY", "ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABACLOUD_ACCESS_KEY_ID"),
)
SECRET_KEY = Setting(
    "secretKey",
    (
        "ALICLOUD_SECRET_KEY",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        "ALIBABACLOUD_ACCESS_KEY_SECRET",
    ),
)
SECURITY_TOKEN = Setting(
    "securityToken",
    ("ALICLOUD_SECURITY_TOKEN", "ALIBABA_CLOUD_SECURITY_TOKEN", "ALIBABACLOUD_SECURITY_TOKEN"),
)
REGION = Setting("region", ("ALICLOUD_REGION", "ALIBABA_CLOUD_REGION"))
PROFILE = Setting("profile", ("ALICLOUD_PROFILE", "ALIBABA_CLOUD_PROFILE"))
PROFILE_FILE = Setting(
    "sharedCredentialsFile",
    ("ALICLOUD_SHARED_CREDENTIALS_FILE", "ALIBABA_CLOUD_CREDENTIALS_FILE"),
)
ECS_ROLE_NAME = Setting("ecsRoleName", ("ALICLOUD_ECS_ROLE_NAME", "ALIBABA_CLOUD_ECS_METADATA"))
ASSUME_ROLE = Setting("assumeRole")
ASSUME_ROLE_WITH_OIDC = Setting("assumeRoleWithOidc")
ENDPOINTS = Setting("endpoints")

SETTINGS: tuple[Setting, ...] = (
    ACCESS_KEY,
    SECRET_KEY,
    SECURITY_TOKEN,
    REGION,
    PROFILE,
    PROFILE_FILE,
    ECS_ROLE_NAME,
    ASSUME_ROLE,
    ASSUME_ROLE_WITH_OIDC,
    ENDPOINTS,
)

CONFIG_KEYS: tuple[str, ...] = tuple(setting.config_key for setting in SETTINGS)
"""Every ``alicloud:*`` stack config key ``resolve_settings`` reads; the provider's
``configure`` passes exactly these on from the engine's config."""


@dataclass(frozen=True)
class Field:
    """A field of ``alicloud:assumeRole`` / ``alicloud:assumeRoleWithOidc`` and the
    environment variables it defaults to (Terraform's ``DefaultFunc``)."""

    name: str
    env: tuple[str, ...] = ()


ASSUME_ROLE_FIELDS = (
    Field("roleArn", ("ALICLOUD_ASSUME_ROLE_ARN", "ALIBABA_CLOUD_ROLE_ARN")),
    Field("sessionName", ("ALICLOUD_ASSUME_ROLE_SESSION_NAME", "ALIBABA_CLOUD_ROLE_SESSION_NAME")),
    Field("sessionExpiration", ("ALICLOUD_ASSUME_ROLE_SESSION_EXPIRATION",)),
    Field("policy"),
    Field("externalId"),
)
OIDC_FIELDS = (
    Field("oidcProviderArn", ("ALIBABA_CLOUD_OIDC_PROVIDER_ARN",)),
    Field("roleArn", ("ALIBABA_CLOUD_ROLE_ARN",)),
    Field("oidcToken", ("ALIBABA_CLOUD_OIDC_TOKEN",)),
    Field("oidcTokenFile", ("ALIBABA_CLOUD_OIDC_TOKEN_FILE",)),
    Field("roleSessionName", ("ALIBABA_CLOUD_ROLE_SESSION_NAME",)),
    Field("sessionExpiration"),
    Field("policy"),
)
OIDC_ENV_TRIO = (
    "ALIBABA_CLOUD_ROLE_ARN",
    "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
    "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
)
"""Set together (and no ``alicloud:assumeRoleWithOidc``), they select the OIDC role."""


class CredentialsError(ValueError):
    """Credentials or settings are missing, incomplete or malformed. Never contains secrets.

    ``key`` names the setting at fault (``alicloud:assumeRole.roleArn``, an environment
    variable, ``alicloud:profile``) when one is; ``missing`` is true when the error only says
    that credentials are not there (which a preview does not report)."""

    def __init__(self, message: str, *, key: str | None = None, missing: bool = False) -> None:
        super().__init__(message)
        self.key = key
        self.missing = missing


def _mask(value: str | None) -> str | None:
    return None if value is None else "****"


@dataclass(frozen=True, repr=False)
class Credentials:
    """An AccessKey pair, optionally with an STS security token.

    Attributes:
        access_key_id: the AccessKey id (not secret, but shown only partially).
        access_key_secret: the AccessKey secret; never shown by ``repr``/``str``.
        security_token: STS token for temporary credentials, or ``None`` (default).
        expiration: when temporary credentials expire (epoch seconds), or ``None``.

    A ``Credentials`` is its own credentials provider: ``current()`` returns itself.
    """

    access_key_id: str
    access_key_secret: str
    security_token: str | None = None
    expiration: float | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.access_key_id or not self.access_key_secret:
            raise CredentialsError("Credentials need both an access key id and a secret")

    def current(self, deadline: object = None) -> Credentials:
        return self

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.access_key_secret, self.security_token) if s)

    def __repr__(self) -> str:
        shown = self.access_key_id[:4] + "****" if len(self.access_key_id) > 8 else "****"
        return (
            f"Credentials(access_key_id={shown!r}, access_key_secret='****', "
            f"security_token={_mask(self.security_token)!r})"
        )

    __str__ = __repr__


@dataclass(frozen=True)
class ResolvedSettings:
    """The result of ``resolve_settings``.

    Attributes:
        credentials: what to sign with: a ``Credentials`` (static keys) or a credentials
            provider (``sources``: temporary credentials, renewed); ``AliyunClient`` takes
            either.
        region: the region id, e.g. ``cn-hangzhou``.
        endpoints: validated overrides ``{product: URL}`` (only products that were set);
            pass to ``AliyunClient(endpoints=...)``.
        sts_endpoint: the STS endpoint the roles are assumed at.
        source: where the credentials came from (no secret), e.g. ``alicloud:assumeRole
            (role acs:ram::...:role/deploy) on stack config alicloud:accessKey``.
    """

    credentials: Any
    region: str
    endpoints: dict[str, str] = field(default_factory=dict)
    sts_endpoint: str | None = None
    source: str = ""


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _config_value(config: Mapping[str, Any], setting: Setting) -> Any:
    for name in (setting.config_key, setting.key):
        if name in config and config[name] not in (None, ""):
            return config[name]
    return None


def _first(
    config: Mapping[str, Any], setting: Setting, environ: Mapping[str, str]
) -> tuple[str | None, str | None]:
    """The setting's value from config, else the environment, and where it came from (for
    error messages; never the value)."""
    value = _clean(_config_value(config, setting))
    if value is not None:
        return value, f"stack config {setting.config_key}"
    for name in setting.env:
        value = _clean(environ.get(name))
        if value is not None:
            return value, f"environment {name}"
    return None, None


def _env_first(environ: Mapping[str, str], names: tuple[str, ...]) -> tuple[str | None, str | None]:
    for name in names:
        value = _clean(environ.get(name))
        if value is not None:
            return value, name
    return None, None


# --- alicloud:endpoints -------------------------------------------------------------------

STS_KEY = "sts"


def _endpoint_items(raw: Any) -> list[Mapping[str, Any]]:
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise CredentialsError(
                f"alicloud:endpoints is not valid JSON ({exc.msg}); expected e.g. "
                '[{"edas": "https://edas.cn-hangzhou.aliyuncs.com"}]',
                key="alicloud:endpoints",
            ) from None
    items = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise CredentialsError(
            "alicloud:endpoints must be a list of objects such as "
            '[{"edas": "...", "webplus": "..."}] (or a single object)',
            key="alicloud:endpoints",
        )
    return items


def _endpoint_values(raw: Any, products: tuple[str, ...]) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in _endpoint_items(raw):
        for product in products:
            value = _clean(item.get(product))
            if value is None:
                continue
            field_name = f"alicloud:endpoints[{product}]"
            try:
                url = validate_endpoint(value, field=field_name)
            except ValueError as exc:
                raise CredentialsError(str(exc), key="alicloud:endpoints") from None
            if product == STS_KEY and not url.startswith("https://"):
                raise CredentialsError(
                    f"{field_name}: STS is spoken over HTTPS only (as Terraform and the "
                    f"official credential providers do); use {'https' + url[4:]!r}",
                    key="alicloud:endpoints",
                )
            if product in found and found[product] != url:
                raise CredentialsError(
                    f"{field_name} is set twice with different values", key="alicloud:endpoints"
                )
            found[product] = url
    return found


def parse_endpoints(raw: Any) -> dict[str, str]:
    """Read ``alicloud:endpoints`` (JSON string, list of objects or dict) into ``{product: URL}``.

    Only the keys of ``endpoints.PRODUCTS`` (``edas``, ``webplus``, ``sae``) are returned;
    values are validated with ``validate_endpoint``. The ``sts`` key is validated too (HTTPS
    only; ``parse_sts_endpoint`` returns it), so a preview refuses a malformed one.
    """
    found = _endpoint_values(raw, (*PRODUCTS, STS_KEY))
    found.pop(STS_KEY, None)
    return found


def parse_sts_endpoint(raw: Any) -> str | None:
    """The ``sts`` key of ``alicloud:endpoints`` as ``https://host[:port]``, or ``None``."""
    return _endpoint_values(raw, (STS_KEY,)).get(STS_KEY)


def default_sts_endpoint(region: str) -> str:
    """Terraform's default: ``https://sts.<region>.aliyuncs.com``."""
    return f"https://sts.{region}.aliyuncs.com"


# --- the profile file ---------------------------------------------------------------------


def _profile_file(
    config: Mapping[str, Any], environ: Mapping[str, str], profile_path: str | os.PathLike | None
) -> Path:
    if profile_path is not None:
        return Path(profile_path).expanduser()
    value, _ = _first(config, PROFILE_FILE, environ)
    if value is None:
        home = environ.get("HOME")
        path = Path(home, ".aliyun", "config.json") if home else Path(DEFAULT_PROFILE_PATH)
        return path.expanduser()
    return Path(value).expanduser()


def _read_profiles(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CredentialsError(
            f"cannot read profile file {str(path)!r}: {exc}", key="alicloud:sharedCredentialsFile"
        ) from None
    profiles = data.get("profiles") if isinstance(data, dict) else None
    if not isinstance(profiles, list):
        raise CredentialsError(
            f"profile file {str(path)!r} has no 'profiles' list",
            key="alicloud:sharedCredentialsFile",
        )
    return data


def _find_profile(data: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    for profile in data.get("profiles") or []:
        if isinstance(profile, dict) and profile.get("name") == name:
            return profile
    return None


def load_profile(path: Path, name: str | None) -> tuple[dict[str, Any], str] | None:
    """Return ``(profile dict, profile name)`` from an aliyun CLI config file.

    ``name=None`` selects the file's ``current`` profile. Returns ``None`` when no name was
    given and the file (or its current profile) does not exist; raises ``CredentialsError``
    when a named profile cannot be found or the file is malformed.
    """
    data = _read_profiles(path)
    if data is None:
        if name:
            raise CredentialsError(
                f"profile {name!r} was requested but the profile file {str(path)!r} does not "
                "exist; run `aliyun configure` or set alicloud:sharedCredentialsFile",
                key="alicloud:profile",
                missing=True,
            )
        return None
    wanted = name or _clean(data.get("current"))
    if not wanted:
        return None
    profile = _find_profile(data, wanted)
    if profile is not None:
        return profile, wanted
    if name:
        names = ", ".join(
            str(p.get("name")) for p in data.get("profiles") or [] if isinstance(p, dict)
        )
        raise CredentialsError(
            f"profile {name!r} not found in {str(path)!r} (available: {names or 'none'})",
            key="alicloud:profile",
            missing=True,
        )
    return None


# --- recipes: what to build, hashable, so one provider serves every equal setting ---------


@dataclass(frozen=True, repr=False)
class Static:
    key_id: str
    secret: str
    token: str | None
    source: str


@dataclass(frozen=True, repr=False)
class EcsRole:
    role_name: str
    endpoint: str
    source: str


@dataclass(frozen=True, repr=False)
class Oidc:
    role_arn: str
    oidc_provider_arn: str
    token: str | None
    token_file: str | None
    session_name: str
    duration: int
    policy: str | None
    sts_endpoint: str
    source: str


@dataclass(frozen=True, repr=False)
class AssumeRole:
    base: Any
    role_arn: str
    session_name: str
    duration: int
    policy: str | None
    external_id: str | None
    sts_endpoint: str
    source: str
    from_profile: bool = False


Recipe = Static | EcsRole | Oidc | AssumeRole


def _describe(recipe: Recipe) -> str:
    if isinstance(recipe, AssumeRole):
        return f"{recipe.source} (role {recipe.role_arn}) on {_describe(recipe.base)}"
    if isinstance(recipe, Oidc):
        return f"{recipe.source} (role {recipe.role_arn})"
    if isinstance(recipe, EcsRole):
        return f"{recipe.source} (role {recipe.role_name})"
    return recipe.source


_CACHE_SIZE = 32
_providers: OrderedDict[str, Any] = OrderedDict()
_providers_lock = threading.Lock()


def _recipe_key(recipe: Recipe) -> str:
    def parts(r: Any) -> Any:
        if isinstance(r, Static | EcsRole | Oidc | AssumeRole):
            return (type(r).__name__, *(parts(v) for v in r.__dict__.values()))
        return r

    return hashlib.sha256(repr(parts(recipe)).encode("utf-8")).hexdigest()


def _build(recipe: Recipe) -> Any:
    from . import sources

    if isinstance(recipe, Static):
        return Credentials(recipe.key_id, recipe.secret, recipe.token)
    if isinstance(recipe, EcsRole):
        return sources.EcsRoleProvider(
            recipe.role_name, endpoint=recipe.endpoint, source=recipe.source
        )
    if isinstance(recipe, Oidc):
        return sources.OidcProvider(
            role_arn=recipe.role_arn,
            oidc_provider_arn=recipe.oidc_provider_arn,
            token=recipe.token,
            token_file=recipe.token_file,
            session_name=recipe.session_name,
            duration=recipe.duration,
            policy=recipe.policy,
            sts_endpoint=recipe.sts_endpoint,
            source=recipe.source,
        )
    return sources.AssumeRoleProvider(
        provider_for(recipe.base),
        role_arn=recipe.role_arn,
        session_name=recipe.session_name,
        duration=recipe.duration,
        policy=recipe.policy,
        external_id=recipe.external_id,
        sts_endpoint=recipe.sts_endpoint,
        source=recipe.source,
    )


def provider_for(recipe: Recipe) -> Any:
    """The credentials (static) or the one provider of this process for ``recipe``; equal
    settings share a provider, so its cached temporary credentials serve every trigger."""
    if isinstance(recipe, Static):
        return _build(recipe)
    key = _recipe_key(recipe)
    with _providers_lock:
        found = _providers.get(key)
        if found is not None:
            _providers.move_to_end(key)
            return found
    built = _build(recipe)
    with _providers_lock:
        found = _providers.setdefault(key, built)
        _providers.move_to_end(key)
        while len(_providers) > _CACHE_SIZE:
            _providers.popitem(last=False)
        return found


def clear_provider_cache() -> None:
    """Forget every cached provider (tests)."""
    with _providers_lock:
        _providers.clear()


# --- the role objects ---------------------------------------------------------------------


def _object(raw: Any, key: str) -> dict[str, Any] | None:
    """``alicloud:assumeRole``-like value: JSON text, an object, or a list of one object."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise CredentialsError(
                f"{key} is not valid JSON ({exc.msg}); expected an object such as "
                '{"roleArn": "acs:ram::123456789012:role/deploy"}',
                key=key,
            ) from None
    if isinstance(raw, list) and len(raw) == 1:
        raw = raw[0]
    if not isinstance(raw, Mapping):
        raise CredentialsError(f"{key} must be an object with named fields", key=key)
    return dict(raw)


def _fields(
    raw: Mapping[str, Any] | None,
    key: str,
    fields: tuple[Field, ...],
    environ: Mapping[str, str],
) -> dict[str, tuple[Any, str]]:
    """Each field's value and where it came from: the object, else its environment."""
    known = {f.name for f in fields}
    if raw is not None:
        unknown = sorted(set(raw) - known)
        if unknown:
            raise CredentialsError(
                f"{key} has unknown field(s) {', '.join(map(repr, unknown))}; the fields are "
                f"{', '.join(f.name for f in fields)}",
                key=key,
            )
    out: dict[str, tuple[Any, str]] = {}
    for f in fields:
        value = None if raw is None else raw.get(f.name)
        if value not in (None, ""):
            out[f.name] = (value, f"{key}.{f.name}")
            continue
        env_value, env_name = _env_first(environ, f.env)
        if env_value is not None:
            out[f.name] = (env_value, f"environment {env_name}")
    return out


def _where_key(where: str) -> str:
    return where.removeprefix("environment ")


def _text(values: Mapping[str, tuple[Any, str]], name: str) -> str | None:
    if name not in values:
        return None
    value, where = values[name]
    if not isinstance(value, str):
        raise CredentialsError(f"{where} must be a string", key=_where_key(where))
    return _clean(value)


def _arn(
    values: Mapping[str, tuple[Any, str]], name: str, pattern: re.Pattern, what: str
) -> str | None:
    value = _text(values, name)
    if value is not None and not pattern.match(value):
        where = values[name][1]
        raise CredentialsError(f"{where}: {value!r} is not {what}", key=_where_key(where))
    return value


_ROLE_ARN = "a RAM role ARN (acs:ram::<account id>:role/<role name>)"
_OIDC_ARN = "an OIDC provider ARN (acs:ram::<account id>:oidc-provider/<name>)"


def _session_name(values: Mapping[str, tuple[Any, str]], name: str) -> str:
    value = _text(values, name)
    if value is None:
        return DEFAULT_SESSION_NAME
    if not SESSION_NAME_RE.match(value):
        where = values[name][1]
        raise CredentialsError(
            f"{where}: {value!r} is not a valid role session name (2 to 64 letters, digits, "
            "'.', '@', '-' or '_')",
            key=_where_key(where),
        )
    return value


def _duration(values: Mapping[str, tuple[Any, str]], name: str) -> int:
    if name not in values:
        return DEFAULT_SESSION_SECONDS
    value, where = values[name]
    low, high = SESSION_SECONDS_RANGE
    try:
        seconds = int(str(value).strip()) if not isinstance(value, bool) else None
    except ValueError:
        seconds = None
    if seconds is None or (isinstance(value, float) and not value.is_integer()):
        raise CredentialsError(
            f"{where} must be a whole number of seconds, got {value!r}", key=_where_key(where)
        )
    if not low <= seconds <= high:
        raise CredentialsError(
            f"{where} must be between {low} and {high} seconds, got {seconds}",
            key=_where_key(where),
        )
    return seconds


def _policy(values: Mapping[str, tuple[Any, str]], name: str) -> str | None:
    if name not in values:
        return None
    value, where = values[name]
    if isinstance(value, Mapping):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    if not isinstance(value, str):
        raise CredentialsError(f"{where} must be a policy document (JSON)", key=_where_key(where))
    try:
        json.loads(value)
    except ValueError as exc:
        raise CredentialsError(
            f"{where} is not a JSON policy document ({exc.msg})", key=_where_key(where)
        ) from None
    return value.strip()


@dataclass(frozen=True)
class RoleSettings:
    """``alicloud:assumeRole`` as read (``role_arn`` may be missing at preview)."""

    role_arn: str | None
    session_name: str
    duration: int
    policy: str | None
    external_id: str | None
    source: str


def read_assume_role(config: Mapping[str, Any], environ: Mapping[str, str]) -> RoleSettings | None:
    """``alicloud:assumeRole`` (or ``ALICLOUD_ASSUME_ROLE_ARN`` alone), validated; ``None``
    when no role is to be assumed."""
    raw = _object(_config_value(config, ASSUME_ROLE), ASSUME_ROLE.config_key)
    env_arn, env_name = _env_first(environ, ("ALICLOUD_ASSUME_ROLE_ARN",))
    if raw is None and env_arn is None:
        return None
    values = _fields(raw, ASSUME_ROLE.config_key, ASSUME_ROLE_FIELDS, environ)
    external_id = _text(values, "externalId")
    return RoleSettings(
        role_arn=_arn(values, "roleArn", ROLE_ARN_RE, _ROLE_ARN),
        session_name=_session_name(values, "sessionName"),
        duration=_duration(values, "sessionExpiration"),
        policy=_policy(values, "policy"),
        external_id=external_id,
        source=ASSUME_ROLE.config_key if raw is not None else f"environment {env_name}",
    )


@dataclass(frozen=True)
class OidcSettings:
    """``alicloud:assumeRoleWithOidc`` as read (fields may be missing at preview)."""

    role_arn: str | None
    oidc_provider_arn: str | None
    token: str | None
    token_file: str | None
    token_file_key: str | None
    session_name: str
    duration: int
    policy: str | None
    source: str


def read_oidc(config: Mapping[str, Any], environ: Mapping[str, str]) -> OidcSettings | None:
    """``alicloud:assumeRoleWithOidc`` (or the SDKs' environment trio), validated; ``None``
    when it is not configured."""
    raw = _object(_config_value(config, ASSUME_ROLE_WITH_OIDC), ASSUME_ROLE_WITH_OIDC.config_key)
    if raw is None and not all(_clean(environ.get(name)) for name in OIDC_ENV_TRIO):
        return None
    values = _fields(raw, ASSUME_ROLE_WITH_OIDC.config_key, OIDC_FIELDS, environ)
    token_file = _text(values, "oidcTokenFile")
    return OidcSettings(
        role_arn=_arn(values, "roleArn", ROLE_ARN_RE, _ROLE_ARN),
        oidc_provider_arn=_arn(values, "oidcProviderArn", OIDC_PROVIDER_ARN_RE, _OIDC_ARN),
        token=_text(values, "oidcToken"),
        token_file=token_file,
        token_file_key=_where_key(values["oidcTokenFile"][1]) if token_file else None,
        session_name=_session_name(values, "roleSessionName"),
        duration=_duration(values, "sessionExpiration"),
        policy=_policy(values, "policy"),
        source=ASSUME_ROLE_WITH_OIDC.config_key
        if raw is not None
        else "environment ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
    )


def _check_token_file(path: str, key: str) -> None:
    try:
        with open(Path(path).expanduser(), "rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise CredentialsError(
            f"{key}: cannot read the OIDC token file {path!r}: {exc.strerror or exc}", key=key
        ) from None


def _ecs_role_name(config: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[str, str] | None:
    value, where = _first(config, ECS_ROLE_NAME, environ)
    if value is None:
        return None
    assert where is not None
    if not ROLE_NAME_RE.match(value):
        raise CredentialsError(
            f"{where}: {value!r} is not a RAM role name (1 to 64 letters, digits, '.', '-', '_')",
            key=_where_key(where.removeprefix("stack config ")),
        )
    return value, where.removeprefix("stack config ")


def _metadata_endpoint(environ: Mapping[str, str]) -> str:
    """``RESTART_TRIGGER_ECS_METADATA_ENDPOINT``, else the ECS metadata service. Plain http://
    is allowed for the real service's address and for loopback (the emulator)."""
    value = _clean(environ.get(METADATA_ENDPOINT_ENV))
    if value is None:
        return METADATA_ENDPOINT
    text = value if "://" in value else f"http://{value}"
    try:
        if urlsplit(text).scheme == "http" and urlsplit(text).hostname == "100.100.100.200":
            https = validate_endpoint("https" + text[4:], field=METADATA_ENDPOINT_ENV)
            return "http" + https[5:]
        return validate_endpoint(text, field=METADATA_ENDPOINT_ENV)
    except ValueError as exc:
        raise CredentialsError(str(exc), key=METADATA_ENDPOINT_ENV) from None


# --- profiles as recipes ------------------------------------------------------------------


def _profile_where(name: str, mode: str, path: Path) -> str:
    return f"profile {name!r} ({mode}) in {str(path)!r}"


def _profile_int(profile: Mapping[str, Any], name: str, where: str) -> int:
    value = profile.get("expired_seconds")
    if value in (None, "", 0):
        return DEFAULT_SESSION_SECONDS
    try:
        return _duration(
            {"expired_seconds": (value, f"{where} expired_seconds")}, "expired_seconds"
        )
    except CredentialsError as exc:
        raise CredentialsError(str(exc), key="alicloud:profile") from None


_SELF_CONTAINED_MODES = "AK, StsToken, RamRoleArn, EcsRamRole or OIDC"


def _profile_text(profile: Mapping[str, Any], key: str) -> str | None:
    value = profile.get(key)
    return _clean(value) if isinstance(value, str) else None


def _show_chain(names: list[str]) -> str:
    if len(names) <= 12:
        return " -> ".join(names)
    return f"{' -> '.join(names[:3])} -> ... -> {' -> '.join(names[-2:])}"


def _loop_error(where: str, source_name: str, chain: tuple[str, ...]) -> CredentialsError:
    return CredentialsError(
        f"{where}: source_profile {source_name!r} loops back "
        f"({_show_chain([*chain, source_name])}); a source_profile "
        f"chain must end at a profile with credentials of its own ({_SELF_CONTAINED_MODES})",
        key="alicloud:profile",
    )


def _chain_too_deep(
    data: Mapping[str, Any],
    chain: tuple[str, ...],
    source_name: str,
    source_profile: Mapping[str, Any],
    path: Path,
) -> CredentialsError:
    """The error for a chain that goes on past ``MAX_CHAIN_DEPTH`` profiles: walks the rest
    of it by name only (nothing is built, nothing called), so that a loop further down is
    still reported as a loop, and a plain chain with its whole depth."""
    names = list(chain)
    seen = set(names)
    name, profile = source_name, source_profile
    while True:
        names.append(name)
        seen.add(name)
        mode = _clean(profile.get("mode")) or "AK"
        following = _profile_text(profile, "source_profile")
        if mode != "ChainableRamRoleArn" or not following:
            break
        if not _profile_text(profile, "ram_role_arn"):
            break
        if following in seen:
            return _loop_error(_profile_where(name, mode, path), following, tuple(names))
        found = _find_profile(data, following)
        if found is None:
            break
        name, profile = following, found
    return CredentialsError(
        f"profile {chain[0]!r} in {str(path)!r}: its source_profile chain is {len(names)} "
        f"profiles deep ({_show_chain(names)}), more than the {MAX_CHAIN_DEPTH} restart-trigger "
        "follows (MAX_CHAIN_DEPTH; every ChainableRamRoleArn link is one AssumeRole call); "
        f"shorten it: let a profile within the first {MAX_CHAIN_DEPTH} have credentials of its "
        f"own ({_SELF_CONTAINED_MODES}) or point its source_profile at one that has",
        key="alicloud:profile",
    )


def _profile_recipe(
    data: Mapping[str, Any],
    profile: Mapping[str, Any],
    name: str,
    path: Path,
    region: str,
    sts_override: str | None,
    seen: tuple[str, ...] = (),
) -> Recipe:
    mode = _clean(profile.get("mode")) or "AK"
    where = _profile_where(name, mode, path)
    if mode not in SUPPORTED_PROFILE_MODES:
        raise CredentialsError(
            f"profile {name!r} in {str(path)!r} uses mode {mode!r}, which restart-trigger does "
            f"not support; supported modes are {', '.join(SUPPORTED_PROFILE_MODES)}.",
            key="alicloud:profile",
        )
    sts_region = _clean(profile.get("sts_region"))
    sts_endpoint = sts_override or default_sts_endpoint(sts_region or region)

    def text(key: str) -> str | None:
        value = profile.get(key)
        return _clean(value) if isinstance(value, str) else None

    def need(*keys: str) -> None:
        missing = [k for k in keys if not text(k)]
        if missing:
            raise CredentialsError(
                f"{where} lacks {', '.join(missing)}", key="alicloud:profile", missing=True
            )

    def role_arn(key: str = "ram_role_arn") -> str:
        value = text(key) or ""
        if not ROLE_ARN_RE.match(value):
            raise CredentialsError(
                f"{where}: {key} {value!r} is not {_ROLE_ARN}", key="alicloud:profile"
            )
        return value

    def session(key_names: tuple[str, ...]) -> str:
        for key in key_names:
            value = text(key)
            if value:
                try:
                    return _session_name({key: (value, f"{where} {key}")}, key)
                except CredentialsError as exc:
                    raise CredentialsError(str(exc), key="alicloud:profile") from None
        return DEFAULT_SESSION_NAME

    if mode in ("AK", "StsToken", "RamRoleArn"):
        need("access_key_id", "access_key_secret")
        if mode == "StsToken":
            need("sts_token")
        base = Static(
            text("access_key_id") or "",
            text("access_key_secret") or "",
            text("sts_token") if mode == "StsToken" else None,
            where,
        )
        if mode != "RamRoleArn":
            return base
        return AssumeRole(
            base,
            role_arn(),
            session(("ram_session_name",)),
            _profile_int(profile, "expired_seconds", where),
            text("policy"),
            text("external_id"),
            sts_endpoint,
            where,
            from_profile=True,
        )
    if mode == "EcsRamRole":
        need("ram_role_name")
        return EcsRole(text("ram_role_name") or "", METADATA_ENDPOINT, where)
    if mode == "OIDC":
        need("ram_role_arn", "oidc_provider_arn", "oidc_token_file")
        provider_arn = text("oidc_provider_arn") or ""
        if not OIDC_PROVIDER_ARN_RE.match(provider_arn):
            raise CredentialsError(
                f"{where}: oidc_provider_arn {provider_arn!r} is not {_OIDC_ARN}",
                key="alicloud:profile",
            )
        return Oidc(
            role_arn(),
            provider_arn,
            None,
            text("oidc_token_file"),
            session(("role_session_name", "ram_session_name")),
            _profile_int(profile, "expired_seconds", where),
            text("policy"),
            sts_endpoint,
            where,
        )
    # ChainableRamRoleArn
    need("source_profile", "ram_role_arn")
    source_name = text("source_profile") or ""
    chain = (*seen, name)
    if source_name in chain:
        raise _loop_error(where, source_name, chain)
    source_profile = _find_profile(data, source_name)
    if source_profile is None:
        raise CredentialsError(
            f"{where}: source_profile {source_name!r} not found", key="alicloud:profile"
        )
    if len(chain) >= MAX_CHAIN_DEPTH:  # the source would be profile MAX_CHAIN_DEPTH + 1
        raise _chain_too_deep(data, chain, source_name, source_profile, path)
    base = _profile_recipe(
        data, source_profile, source_name, path, region, sts_override, (*seen, name)
    )
    return AssumeRole(
        base,
        role_arn(),
        session(("ram_session_name",)),
        _profile_int(profile, "expired_seconds", where),
        text("policy"),
        text("external_id"),
        sts_endpoint,
        where,
    )


def _uses_current_profile(config: Mapping[str, Any], environ: Mapping[str, str]) -> bool:
    """Whether ``resolve_settings`` falls through to the profile file's ``current`` profile
    (row 5): no AccessKey id nor secret, no named profile, no ECS role and no OIDC role, in
    stack config or the environment (a malformed one counts: run time stops at it)."""
    for setting in (ACCESS_KEY, SECRET_KEY, PROFILE, ECS_ROLE_NAME):
        if _first(config, setting, environ)[0] is not None:
            return False
    if _config_value(config, ASSUME_ROLE_WITH_OIDC) is not None:
        return False
    return not all(_clean(environ.get(name)) for name in OIDC_ENV_TRIO)


def _in_current_profile(exc: CredentialsError, path: Path) -> CredentialsError:
    """``exc`` (from reading the file or the ``current`` profile in it), saying why that
    profile is used and what to do about it."""
    unused = (
        "because no other Alibaba Cloud credentials are set (in stack config or the environment)"
    )
    if exc.key == PROFILE_FILE.config_key:
        hint = (
            f"restart-trigger reads this file for its `current` profile {unused}: make it an "
            "aliyun CLI config.json (JSON with a 'profiles' list, as `aliyun configure` writes "
            "it), point alicloud:sharedCredentialsFile at one, or set credentials such as "
            "alicloud:accessKey / alicloud:secretKey"
        )
    else:
        hint = (
            f"it is the `current` profile of {str(path)!r}, used {unused}: fix it there, make "
            "another profile current, or name a working one with alicloud:profile"
        )
    return CredentialsError(f"{str(exc).rstrip('.')}; {hint}", key=exc.key, missing=exc.missing)


def _missing_credentials_message(path: Path) -> str:
    return (
        "no Alibaba Cloud credentials found. Set the stack config keys alicloud:accessKey and "
        "alicloud:secretKey (`pulumi config set alicloud:accessKey ...` and "
        "`pulumi config set --secret alicloud:secretKey ...`, plus alicloud:securityToken for "
        "STS), or the environment variables ALICLOUD_ACCESS_KEY and ALICLOUD_SECRET_KEY (or "
        "ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET; tokens in "
        "ALICLOUD_SECURITY_TOKEN / ALIBABA_CLOUD_SECURITY_TOKEN), or alicloud:ecsRoleName on an "
        "ECS instance, or alicloud:assumeRoleWithOidc (or ALIBABA_CLOUD_ROLE_ARN, "
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN and ALIBABA_CLOUD_OIDC_TOKEN_FILE) from CI, or a profile "
        f"in {str(path)!r} selected with alicloud:profile or ALICLOUD_PROFILE."
    )


def _oidc_recipe(oidc: OidcSettings, sts_endpoint: str) -> Oidc:
    missing = [
        name
        for name, value in (("roleArn", oidc.role_arn), ("oidcProviderArn", oidc.oidc_provider_arn))
        if not value
    ]
    if not oidc.token and not oidc.token_file:
        missing.append("oidcToken or oidcTokenFile")
    if missing:
        raise CredentialsError(
            f"{oidc.source} lacks {', '.join(missing)} (set them in the object, or "
            "ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN, "
            "ALIBABA_CLOUD_OIDC_TOKEN_FILE)",
            key=ASSUME_ROLE_WITH_OIDC.config_key,
        )
    assert oidc.role_arn is not None and oidc.oidc_provider_arn is not None
    return Oidc(
        oidc.role_arn,
        oidc.oidc_provider_arn,
        oidc.token,
        None if oidc.token else oidc.token_file,
        oidc.session_name,
        oidc.duration,
        oidc.policy,
        sts_endpoint,
        oidc.source,
    )


def resolve_settings(
    stack_config: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    profile_path: str | os.PathLike | None = None,
) -> ResolvedSettings:
    """Resolve credentials, region and endpoint overrides (see the module docstring tables).

    No network call is made here: temporary credentials are fetched by the returned provider
    on first use.

    Args:
        stack_config: the ``alicloud:*`` stack config values (keys with or without prefix).
        environ: environment variables; default ``os.environ``.
        profile_path: aliyun CLI profile file; default from config/env, else
            ``~/.aliyun/config.json``.

    Raises:
        CredentialsError: credentials missing or incomplete, profile unusable, malformed
            role settings, endpoints or region. The message names the keys and variables to
            set, never a secret.
    """
    environ = os.environ if environ is None else environ

    key_id, key_src = _first(stack_config, ACCESS_KEY, environ)
    secret, secret_src = _first(stack_config, SECRET_KEY, environ)
    token, _ = _first(stack_config, SECURITY_TOKEN, environ)
    region, region_src = _first(stack_config, REGION, environ)
    profile_name, _ = _first(stack_config, PROFILE, environ)
    ecs_role = _ecs_role_name(stack_config, environ)
    assume = read_assume_role(stack_config, environ)
    oidc = read_oidc(stack_config, environ)
    raw_endpoints = _config_value(stack_config, ENDPOINTS)
    endpoints = parse_endpoints(raw_endpoints)
    sts_override = parse_sts_endpoint(raw_endpoints)
    path = _profile_file(stack_config, environ, profile_path)

    def final_region() -> tuple[str, str]:
        chosen, chosen_src = region, region_src
        if not chosen and profile is not None and _clean(profile[0].get("region_id")):
            chosen, chosen_src = _clean(profile[0].get("region_id")), f"profile {profile[1]!r}"
        if not chosen:
            chosen, chosen_src = DEFAULT_REGION, "default"
        try:
            return validate_region(chosen), str(chosen_src)
        except ValueError as exc:
            raise CredentialsError(f"{exc} (from {chosen_src})", key="alicloud:region") from None

    profile: tuple[dict[str, Any], str] | None = None
    base: Recipe | None = None
    if key_id and secret:
        base = Static(key_id, secret, token, str(key_src))
        if profile_name and not region:
            try:  # only for the region; like Terraform, an unusable profile is ignored here
                profile = load_profile(path, profile_name)
            except CredentialsError:
                profile = None
    elif key_id or secret:
        have, missing = (
            ("access key id", "alicloud:secretKey / ALICLOUD_SECRET_KEY")
            if key_id
            else ("access key secret", "alicloud:accessKey / ALICLOUD_ACCESS_KEY")
        )
        raise CredentialsError(
            f"incomplete Alibaba Cloud credentials: found the {have} "
            f"({key_src or secret_src}) but not its partner; set {missing}",
            key="alicloud:secretKey" if key_id else "alicloud:accessKey",
        )
    elif profile_name:
        profile = load_profile(path, profile_name)

    if base is None and profile is None and ecs_role is None and oidc is None:
        try:
            profile = load_profile(path, None)
        except CredentialsError as exc:
            raise _in_current_profile(exc, path) from None
        if profile is None:
            raise CredentialsError(_missing_credentials_message(path), missing=True)

    region_id, _ = final_region()
    sts_endpoint = sts_override or default_sts_endpoint(region_id)
    if (
        base is None
        and profile is not None
        and (profile_name or (ecs_role is None and oidc is None))
    ):
        data = _read_profiles(path) or {}
        try:
            base = _profile_recipe(data, profile[0], profile[1], path, region_id, sts_override)
        except CredentialsError as exc:
            if profile_name:
                raise
            raise _in_current_profile(exc, path) from None
    elif base is None and ecs_role is not None:
        base = EcsRole(ecs_role[0], _metadata_endpoint(environ), ecs_role[1])
    elif base is None:
        assert oidc is not None
        base = _oidc_recipe(oidc, sts_endpoint)

    recipe: Recipe = base
    if assume is not None:
        if not assume.role_arn:
            raise CredentialsError(
                f"{assume.source} has no roleArn (set it in the object, or "
                "ALICLOUD_ASSUME_ROLE_ARN)",
                key=f"{ASSUME_ROLE.config_key}.roleArn",
            )
        if isinstance(base, AssumeRole) and base.from_profile:
            base = base.base  # Terraform: assume_role replaces a RamRoleArn profile's role
        recipe = AssumeRole(
            base,
            assume.role_arn,
            assume.session_name,
            assume.duration,
            assume.policy,
            assume.external_id,
            sts_endpoint,
            assume.source,
        )
    return ResolvedSettings(
        provider_for(recipe), region_id, endpoints, sts_endpoint, _describe(recipe)
    )


def check_credential_config(
    config: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    """What a preview can judge of the credential settings in stack ``config``, as
    ``(key, reason)`` failures: a malformed role or OIDC provider ARN, session name or
    lifetime or policy, an unreadable ``oidcTokenFile``, a malformed ``sts`` endpoint, and the
    profile run time would use: the one named in ``alicloud:profile``, or else, exactly when
    run time would fall through to it (row 5), the profile file's ``current`` profile. Such a
    profile fails when its mode (or a mode down its ``source_profile`` chain) is unknown, its
    chain loops or holds more than ``MAX_CHAIN_DEPTH`` profiles, or the file is not the
    aliyun CLI's JSON. Missing credentials are never reported: previews run without secrets.

    Only stack config is judged (the environment of a preview job is not the deploy job's).
    ``environ`` (default ``os.environ``) is used for one thing, as at run time: whether some
    source above row 5 is set there (then the ``current`` profile is not checked) and which
    file that profile would be read from (``ALICLOUD_SHARED_CREDENTIALS_FILE``, ``HOME``).
    An ``environ`` passed explicitly is judged too (tests)."""
    run_environ = os.environ if environ is None else environ
    environ = {} if environ is None else environ
    failures: list[tuple[str, str]] = []

    def judge(key: str, check) -> Any:
        try:
            return check()
        except CredentialsError as exc:
            if not exc.missing:
                failures.append((exc.key or key, str(exc)))
            return None

    judge(ASSUME_ROLE.config_key, lambda: read_assume_role(config, environ))
    oidc = judge(ASSUME_ROLE_WITH_OIDC.config_key, lambda: read_oidc(config, environ))
    if oidc is not None and oidc.token_file and not oidc.token and oidc.token_file_key:
        judge(oidc.token_file_key, lambda: _check_token_file(oidc.token_file, oidc.token_file_key))
    judge(ECS_ROLE_NAME.config_key, lambda: _ecs_role_name(config, environ))

    name = _clean(_config_value(config, PROFILE))
    if name:

        def profile_modes() -> None:
            path = _profile_file(config, environ, None)
            found = load_profile(path, name)
            if found is None:
                return
            data = _read_profiles(path) or {}
            _profile_recipe(data, found[0], found[1], path, DEFAULT_REGION, None)

        judge(PROFILE.config_key, profile_modes)
    elif _uses_current_profile(config, run_environ):

        def current_profile() -> None:
            path = _profile_file(config, run_environ, None)
            try:
                found = load_profile(path, None)
                if found is None:
                    return  # no file, or no current profile in it: missing credentials
                data = _read_profiles(path) or {}
                _profile_recipe(data, found[0], found[1], path, DEFAULT_REGION, None)
            except CredentialsError as exc:
                raise _in_current_profile(exc, path) from None

        judge(PROFILE.config_key, current_profile)
    return failures
