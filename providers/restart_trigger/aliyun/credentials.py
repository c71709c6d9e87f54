# ruff: noqa: E501  (the precedence table below is copied verbatim into the README)
"""Credential chain: where the AccessKey, STS token, region and endpoint overrides come from.

What lives here: ``resolve_settings`` (the chain), ``Credentials``, ``parse_endpoints`` (the
``alicloud:endpoints`` value), and ``CONFIG_KEYS``, the one list of stack config keys the chain
reads, derived from the ``SETTINGS`` table the resolver itself uses.

Resolved at run time by ``resolve_settings``; nothing is cached or written anywhere. The
sources and names are those of the pulumi-alicloud provider (which wraps
terraform-provider-alicloud): stack config first, then environment variables, then the
aliyun CLI profile file.

Precedence (first source that has a value wins, left to right):

| setting | 1. stack config | 2. environment (in this order) | 3. profile file |
| --- | --- | --- | --- |
| access key id | `alicloud:accessKey` | `ALICLOUD_ACCESS_KEY`, `ALIBABA_CLOUD_ACCESS_KEY_ID`, `ALIBABACLOUD_ACCESS_KEY_ID` | `access_key_id` |
| access key secret | `alicloud:secretKey` | `ALICLOUD_SECRET_KEY`, `ALIBABA_CLOUD_ACCESS_KEY_SECRET`, `ALIBABACLOUD_ACCESS_KEY_SECRET` | `access_key_secret` |
| security token (STS, optional) | `alicloud:securityToken` | `ALICLOUD_SECURITY_TOKEN`, `ALIBABA_CLOUD_SECURITY_TOKEN`, `ALIBABACLOUD_SECURITY_TOKEN` | `sts_token` (mode `StsToken` only) |
| region | `alicloud:region` | `ALICLOUD_REGION`, `ALIBABA_CLOUD_REGION` | `region_id`, else default `cn-beijing` |
| profile name | `alicloud:profile` | `ALICLOUD_PROFILE`, `ALIBABA_CLOUD_PROFILE` | the file's `current` profile |
| profile file | `alicloud:sharedCredentialsFile` | `ALICLOUD_SHARED_CREDENTIALS_FILE`, `ALIBABA_CLOUD_CREDENTIALS_FILE` | default `~/.aliyun/config.json` |
| endpoints | `alicloud:endpoints` | (none) | (none) |

Rules:

* Stack config and environment are one layer, merged per setting exactly as the Terraform
  provider's ``DefaultFunc`` does: ``alicloud:accessKey`` may come from config while the secret
  comes from ``ALICLOUD_SECRET_KEY``.
* The profile file is consulted only when that layer does not give both the key id and the
  secret. Its credentials are then taken as a unit (id, secret and token together). A half-set
  pair in config/env (only the id, or only the secret) is an error, not mixed with a profile. A profile named in config/env must exist; without a name the file's
  ``current`` profile is used (as the aliyun CLI does). Supported modes: ``AK`` and
  ``StsToken``; any other mode is a clear error.
* The region's profile fallback uses the same profile (when keys come from config/env, only a
  profile named in config/env is read for the region, and an unusable one is ignored); the final default ``cn-beijing`` is the
  Terraform provider's default region.
* ``alicloud:endpoints`` is pulumi-alicloud's list of objects, e.g. ``[{"edas": "..."}]``;
  a JSON string, a list or a single dict is accepted. Keys ``edas``, ``webplus`` and ``sae``
  are used (EDAS Kubernetes applications are EDAS calls), other products are ignored.
* Stack config keys may be given with or without the ``alicloud:`` prefix.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .endpoints import PRODUCTS, validate_endpoint, validate_region

DEFAULT_REGION = "cn-beijing"
"""Region used when no source names one (the Terraform provider's default)."""

DEFAULT_PROFILE_PATH = "~/.aliyun/config.json"
"""aliyun CLI profile file read when no other path is configured."""

SUPPORTED_PROFILE_MODES = ("AK", "StsToken")


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
ENDPOINTS = Setting("endpoints")

SETTINGS: tuple[Setting, ...] = (
    ACCESS_KEY,
    SECRET_KEY,
    SECURITY_TOKEN,
    REGION,
    PROFILE,
    PROFILE_FILE,
    ENDPOINTS,
)

CONFIG_KEYS: tuple[str, ...] = tuple(setting.config_key for setting in SETTINGS)
"""Every ``alicloud:*`` stack config key ``resolve_settings`` reads; the provider's
``configure`` passes exactly these on from the engine's config."""


class CredentialsError(ValueError):
    """Credentials or settings are missing, incomplete or malformed. Never contains secrets."""


def _mask(value: str | None) -> str | None:
    return None if value is None else "****"


@dataclass(frozen=True, repr=False)
class Credentials:
    """An AccessKey pair, optionally with an STS security token.

    Attributes:
        access_key_id: the AccessKey id (not secret, but shown only partially).
        access_key_secret: the AccessKey secret; never shown by ``repr``/``str``.
        security_token: STS token for temporary credentials, or ``None`` (default).
    """

    access_key_id: str
    access_key_secret: str
    security_token: str | None = None

    def __post_init__(self) -> None:
        if not self.access_key_id or not self.access_key_secret:
            raise CredentialsError("Credentials need both an access key id and a secret")

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
        credentials: the credentials to sign with.
        region: the region id, e.g. ``cn-hangzhou``.
        endpoints: validated overrides ``{product: URL}`` (only products that were set);
            pass to ``AliyunClient(endpoints=...)``.
    """

    credentials: Credentials
    region: str
    endpoints: dict[str, str] = field(default_factory=dict)


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


def parse_endpoints(raw: Any) -> dict[str, str]:
    """Read ``alicloud:endpoints`` (JSON string, list of objects or dict) into ``{product: URL}``.

    Only the keys of ``endpoints.PRODUCTS`` (``edas``, ``webplus``, ``sae``) are kept; values are
    validated with ``validate_endpoint``.
    """
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise CredentialsError(
                f"alicloud:endpoints is not valid JSON ({exc.msg}); expected e.g. "
                '[{"edas": "https://edas.cn-hangzhou.aliyuncs.com"}]'
            ) from None
    items = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise CredentialsError(
            "alicloud:endpoints must be a list of objects such as "
            '[{"edas": "...", "webplus": "..."}] (or a single object)'
        )
    found: dict[str, str] = {}
    for item in items:
        for product in PRODUCTS:
            value = _clean(item.get(product))
            if value is None:
                continue
            field_name = f"alicloud:endpoints[{product}]"
            try:
                url = validate_endpoint(value, field=field_name)
            except ValueError as exc:
                raise CredentialsError(str(exc)) from None
            if product in found and found[product] != url:
                raise CredentialsError(f"{field_name} is set twice with different values")
            found[product] = url
    return found


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


def load_profile(path: Path, name: str | None) -> tuple[dict[str, Any], str] | None:
    """Return ``(profile dict, profile name)`` from an aliyun CLI config file.

    ``name=None`` selects the file's ``current`` profile. Returns ``None`` when no name was
    given and the file (or its current profile) does not exist; raises ``CredentialsError``
    when a named profile cannot be found or the file is malformed.
    """
    if not path.is_file():
        if name:
            raise CredentialsError(
                f"profile {name!r} was requested but the profile file {str(path)!r} does not "
                "exist; run `aliyun configure` or set alicloud:sharedCredentialsFile"
            )
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CredentialsError(f"cannot read profile file {str(path)!r}: {exc}") from None
    profiles = data.get("profiles") if isinstance(data, dict) else None
    if not isinstance(profiles, list):
        raise CredentialsError(f"profile file {str(path)!r} has no 'profiles' list")
    wanted = name or _clean(data.get("current"))
    if not wanted:
        return None
    for profile in profiles:
        if isinstance(profile, dict) and profile.get("name") == wanted:
            return profile, wanted
    if name:
        names = ", ".join(str(p.get("name")) for p in profiles if isinstance(p, dict))
        raise CredentialsError(
            f"profile {name!r} not found in {str(path)!r} (available: {names or 'none'})"
        )
    return None


def _credentials_from_profile(profile: Mapping[str, Any], name: str, path: Path) -> Credentials:
    mode = _clean(profile.get("mode")) or "AK"
    if mode not in SUPPORTED_PROFILE_MODES:
        raise CredentialsError(
            f"profile {name!r} in {str(path)!r} uses mode {mode!r}, which restart-trigger does "
            f"not support; supported modes are {', '.join(SUPPORTED_PROFILE_MODES)}. Use an AK "
            "or StsToken profile, or set alicloud:accessKey/alicloud:secretKey."
        )
    key_id = _clean(profile.get("access_key_id"))
    secret = _clean(profile.get("access_key_secret"))
    token = _clean(profile.get("sts_token")) if mode == "StsToken" else None
    if not key_id or not secret:
        raise CredentialsError(
            f"profile {name!r} in {str(path)!r} lacks access_key_id or access_key_secret"
        )
    if mode == "StsToken" and not token:
        raise CredentialsError(
            f"profile {name!r} in {str(path)!r} is StsToken but has no sts_token"
        )
    return Credentials(key_id, secret, token)


def _missing_credentials_message(path: Path) -> str:
    return (
        "no Alibaba Cloud credentials found. Set the stack config keys alicloud:accessKey and "
        "alicloud:secretKey (`pulumi config set alicloud:accessKey ...` and "
        "`pulumi config set --secret alicloud:secretKey ...`, plus alicloud:securityToken for "
        "STS), or the environment variables ALICLOUD_ACCESS_KEY and ALICLOUD_SECRET_KEY (or "
        "ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET; tokens in "
        "ALICLOUD_SECURITY_TOKEN / ALIBABA_CLOUD_SECURITY_TOKEN), or an AK/StsToken profile "
        f"in {str(path)!r} selected with alicloud:profile or ALICLOUD_PROFILE."
    )


def resolve_settings(
    stack_config: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    profile_path: str | os.PathLike | None = None,
) -> ResolvedSettings:
    """Resolve credentials, region and endpoint overrides (see the module docstring table).

    Args:
        stack_config: the ``alicloud:*`` stack config values (keys with or without prefix).
        environ: environment variables; default ``os.environ``.
        profile_path: aliyun CLI profile file; default from config/env, else
            ``~/.aliyun/config.json``.

    Raises:
        CredentialsError: credentials missing or incomplete, profile unusable, malformed
            endpoints or region. The message names the keys and variables to set.
    """
    environ = os.environ if environ is None else environ

    key_id, key_src = _first(stack_config, ACCESS_KEY, environ)
    secret, secret_src = _first(stack_config, SECRET_KEY, environ)
    token, _ = _first(stack_config, SECURITY_TOKEN, environ)
    region, region_src = _first(stack_config, REGION, environ)
    profile_name, _ = _first(stack_config, PROFILE, environ)
    path = _profile_file(stack_config, environ, profile_path)

    if key_id and secret:
        credentials = Credentials(key_id, secret, token)
        profile = None
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
            f"({key_src or secret_src}) but not its partner; set {missing}"
        )
    else:
        profile = load_profile(path, profile_name)
        if profile is None:
            raise CredentialsError(_missing_credentials_message(path))
        credentials = _credentials_from_profile(profile[0], profile[1], path)

    if not region and profile is not None and _clean(profile[0].get("region_id")):
        region, region_src = _clean(profile[0].get("region_id")), f"profile {profile[1]!r}"
    if not region:
        region, region_src = DEFAULT_REGION, "default"
    try:
        region = validate_region(region)
    except ValueError as exc:
        raise CredentialsError(f"{exc} (from {region_src})") from None

    endpoints = parse_endpoints(_config_value(stack_config, ENDPOINTS))
    return ResolvedSettings(credentials, region, endpoints)
