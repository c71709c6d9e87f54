"""The credential settings as the chain reads them: stack config and the environment, one layer
(``Layer``), merged per setting exactly as the Terraform provider's ``DefaultFunc`` does.

* ``Setting`` rows: a stack config key and its environment variables (first wins);
  ``CONFIG_KEYS``, what the provider passes on from the engine's config, is every key of
  ``SETTINGS``.
* ``Field`` rows: the fields of ``alicloud:assumeRole`` / ``alicloud:assumeRoleWithOidc`` and
  the environment variables each defaults to.
* The validators of what is read (``arn``, ``session_name``, ``duration``, ``policy``), each
  given a value and where it came from (``Found``), naming that place in its error.
* ``alicloud:endpoints`` (``parse_endpoints``, ``parse_sts_endpoint``) and the metadata
  service's address (``metadata_endpoint``).

Which source reads which rows, and in which order the sources are tried, is
``credentials.LOADERS``; the table in docs/credentials.md is derived from both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .credential_types import CredentialsError
from .endpoints import PRODUCTS, validate_endpoint
from .sts import METADATA_ENDPOINT

DEFAULT_REGION = "cn-beijing"
"""Region used when no source names one (the Terraform provider's default)."""

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

ROLE_ARN = "a RAM role ARN (acs:ram::<account id>:role/<role name>)"
OIDC_ARN = "an OIDC provider ARN (acs:ram::<account id>:oidc-provider/<name>)"


@dataclass(frozen=True)
class Setting:
    """A stack config key and the environment variables it falls back to.

    The chain reads stack config only through these rows, so ``CONFIG_KEYS`` (what the
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
ASSUME_ROLE_ENV_ALONE = ("ALICLOUD_ASSUME_ROLE_ARN",)
"""Set without ``alicloud:assumeRole``, it selects the role to assume."""
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


Found = tuple[Any, str]
"""A value as read and where it came from (``alicloud:assumeRole.roleArn``, ``environment
ALICLOUD_ASSUME_ROLE_ARN``, a profile's key): errors name the place, never the value of a
secret."""


def clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def where_key(where: str) -> str:
    """The key an error names for a value found at ``where``."""
    return where.removeprefix("environment ")


@dataclass(frozen=True)
class Layer:
    """Stack config (keys with or without the ``alicloud:`` prefix) and the environment."""

    config: Mapping[str, Any]
    environ: Mapping[str, str]

    def value(self, setting: Setting) -> Any:
        """The setting's stack config value as given (``None`` when unset or empty)."""
        for name in (setting.config_key, setting.key):
            if name in self.config and self.config[name] not in (None, ""):
                return self.config[name]
        return None

    def first(self, setting: Setting) -> tuple[str | None, str | None]:
        """The setting's value from config, else the environment, and where it came from (for
        error messages; never the value)."""
        value = clean(self.value(setting))
        if value is not None:
            return value, f"stack config {setting.config_key}"
        return self.env_first(setting.env, prefix="environment ")

    def env_first(
        self, names: tuple[str, ...], *, prefix: str = ""
    ) -> tuple[str | None, str | None]:
        for name in names:
            value = clean(self.environ.get(name))
            if value is not None:
                return value, f"{prefix}{name}"
        return None, None

    def object(self, setting: Setting) -> dict[str, Any] | None:
        """The object ``setting`` (JSON text, an object, or a list of one object), or
        ``None`` when it is not given."""
        return _object(self.value(setting), setting.config_key)

    def fields(
        self, raw: Mapping[str, Any] | None, setting: Setting, fields: tuple[Field, ...]
    ) -> dict[str, Found]:
        """Each field's value and where it came from: the object ``raw`` (of ``setting``),
        else its environment."""
        key = setting.config_key
        if raw is not None:
            unknown = sorted(set(raw) - {f.name for f in fields})
            if unknown:
                raise CredentialsError(
                    f"{key} has unknown field(s) {', '.join(map(repr, unknown))}; the fields "
                    f"are {', '.join(f.name for f in fields)}",
                    key=key,
                )
        out: dict[str, Found] = {}
        for f in fields:
            value = None if raw is None else raw.get(f.name)
            if value not in (None, ""):
                out[f.name] = (value, f"{key}.{f.name}")
                continue
            env_value, env_where = self.env_first(f.env, prefix="environment ")
            if env_value is not None and env_where is not None:
                out[f.name] = (env_value, env_where)
        return out


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


# --- validators: a value and where it came from -------------------------------------------


def text(found: Found | None) -> str | None:
    if found is None:
        return None
    value, where = found
    if not isinstance(value, str):
        raise CredentialsError(f"{where} must be a string", key=where_key(where))
    return clean(value)


def arn(found: Found | None, pattern: re.Pattern, what: str) -> str | None:
    value = text(found)
    if value is not None and not pattern.match(value):
        assert found is not None
        raise CredentialsError(f"{found[1]}: {value!r} is not {what}", key=where_key(found[1]))
    return value


def session_name(found: Found | None) -> str:
    value = text(found)
    if value is None:
        return DEFAULT_SESSION_NAME
    if not SESSION_NAME_RE.match(value):
        assert found is not None
        raise CredentialsError(
            f"{found[1]}: {value!r} is not a valid role session name (2 to 64 letters, "
            "digits, '.', '@', '-' or '_')",
            key=where_key(found[1]),
        )
    return value


def duration(found: Found | None) -> int:
    if found is None:
        return DEFAULT_SESSION_SECONDS
    value, where = found
    low, high = SESSION_SECONDS_RANGE
    try:
        seconds = int(str(value).strip()) if not isinstance(value, bool) else None
    except ValueError:
        seconds = None
    if seconds is None or (isinstance(value, float) and not value.is_integer()):
        raise CredentialsError(
            f"{where} must be a whole number of seconds, got {value!r}", key=where_key(where)
        )
    if not low <= seconds <= high:
        raise CredentialsError(
            f"{where} must be between {low} and {high} seconds, got {seconds}",
            key=where_key(where),
        )
    return seconds


def policy(found: Found | None) -> str | None:
    if found is None:
        return None
    value, where = found
    if isinstance(value, Mapping):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    if not isinstance(value, str):
        raise CredentialsError(f"{where} must be a policy document (JSON)", key=where_key(where))
    try:
        json.loads(value)
    except ValueError as exc:
        raise CredentialsError(
            f"{where} is not a JSON policy document ({exc.msg})", key=where_key(where)
        ) from None
    return value.strip()


# --- alicloud:endpoints and the metadata service ------------------------------------------

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
            value = clean(item.get(product))
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


def metadata_endpoint(environ: Mapping[str, str]) -> str:
    """``RESTART_TRIGGER_ECS_METADATA_ENDPOINT``, else the ECS metadata service. Plain http://
    is allowed for the real service's address and for loopback (the emulator)."""
    value = clean(environ.get(METADATA_ENDPOINT_ENV))
    if value is None:
        return METADATA_ENDPOINT
    url = value if "://" in value else f"http://{value}"
    try:
        if urlsplit(url).scheme == "http" and urlsplit(url).hostname == "100.100.100.200":
            https = validate_endpoint("https" + url[4:], field=METADATA_ENDPOINT_ENV)
            return "http" + https[5:]
        return validate_endpoint(url, field=METADATA_ENDPOINT_ENV)
    except ValueError as exc:
        raise CredentialsError(str(exc), key=METADATA_ENDPOINT_ENV) from None
