"""Credential chain: where the credentials, region and endpoint overrides come from.

The sources, their stack config keys and environment variables, their precedence and the
rules are documented once, in docs/credentials.md (its table is checked against ``LOADERS``
by tests/unit/test_aliyun_credentials.py). The names are those of the pulumi-alicloud provider
(terraform-provider-alicloud's ``providerConfigure`` and ``RefreshAuthCredential``).

* ``LOADERS``: the base credentials' sources, in precedence order, as botocore keeps its
  providers; each reads its settings (``read``: validated, ``None`` when not set), gives its
  spec when it is the first one set (``load``) and says what a preview can judge of it
  (``check``). ``ROLE_ON_TOP`` is layered on top of whichever base was found.
* ``resolve_settings``: run time. Every setting is read and validated, used or not (as
  Terraform does); the first source set gives the base; the spec is built into credentials
  (``sources.provider_for``: a ``Credentials``, or one provider per distinct spec in the
  process). No network call is made here.
* ``check_credential_config``: preview, walking the same ``LOADERS``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from .credential_types import Credentials, CredentialsError, CredentialsSource
from .endpoints import validate_region
from .profiles import (
    MAX_CHAIN_DEPTH,
    SUPPORTED_PROFILE_MODES,
    check_profile,
    load_profile,
    profile_file,
)
from .settings import (
    ACCESS_KEY,
    ASSUME_ROLE,
    ASSUME_ROLE_ENV_ALONE,
    ASSUME_ROLE_FIELDS,
    ASSUME_ROLE_WITH_OIDC,
    CONFIG_KEYS,
    DEFAULT_REGION,
    ECS_ROLE_NAME,
    ENDPOINTS,
    OIDC_ARN,
    OIDC_ENV_TRIO,
    OIDC_FIELDS,
    OIDC_PROVIDER_ARN_RE,
    PROFILE,
    PROFILE_FILE,
    REGION,
    ROLE_ARN,
    ROLE_ARN_RE,
    ROLE_NAME_RE,
    SECRET_KEY,
    SECURITY_TOKEN,
    SETTINGS,
    Field,
    Layer,
    Setting,
    arn,
    clean,
    default_sts_endpoint,
    duration,
    metadata_endpoint,
    parse_endpoints,
    parse_sts_endpoint,
    policy,
    session_name,
    text,
    where_key,
)
from .sources import clear_provider_cache, provider_for
from .specs import AccessKey, AssumeRole, EcsRole, Oidc, Spec, describe

__all__ = [
    "ROLE_ON_TOP",
    "CONFIG_KEYS",
    "LOADERS",
    "MAX_CHAIN_DEPTH",
    "SETTINGS",
    "SUPPORTED_PROFILE_MODES",
    "Credentials",
    "CredentialsError",
    "CredentialsSource",
    "Loader",
    "ResolvedSettings",
    "Setting",
    "Source",
    "check_credential_config",
    "clear_provider_cache",
    "parse_endpoints",
    "parse_sts_endpoint",
    "provider_for",
    "resolve_settings",
]


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

    credentials: CredentialsSource
    region: str
    endpoints: dict[str, str] = field(default_factory=dict)
    sts_endpoint: str | None = None
    source: str = ""


# --- what a loader is given ---------------------------------------------------------------


@dataclass
class Run:
    """What the first loader set (``loader``) needs at run time to give its spec: the layer,
    the profile file, the ``sts`` key of ``alicloud:endpoints``, and the region, worked out
    when first asked for: stack config and the environment, else the profile the credentials
    come from or the one named (an unusable one is then ignored), else ``DEFAULT_REGION``."""

    layer: Layer
    path: Path
    sts_override: str | None
    loader: Loader

    @cached_property
    def region(self) -> str:
        chosen, chosen_src = self.layer.first(REGION)
        if not chosen:
            name, _ = self.layer.first(PROFILE)
            profile = None
            if name or self.loader is CURRENT_PROFILE:
                try:
                    profile = load_profile(self.path, name)
                except CredentialsError:
                    profile = None
            if profile is not None and profile.region_id:
                chosen, chosen_src = profile.region_id, f"profile {profile.name!r}"
        if not chosen:
            chosen, chosen_src = DEFAULT_REGION, "default"
        try:
            return validate_region(chosen)
        except ValueError as exc:
            raise CredentialsError(f"{exc} (from {chosen_src})", key=REGION.config_key) from None

    @property
    def sts_endpoint(self) -> str:
        region = self.region  # checked even when alicloud:endpoints names the STS endpoint
        return self.sts_override or default_sts_endpoint(region)


@dataclass
class Preview:
    """What ``check_credential_config`` judges with: the stack config with the environment
    passed (``judged``) and with the one run time would see (``run``), and the failures."""

    judged: Layer
    run: Layer
    failures: list[tuple[str, str]] = field(default_factory=list)

    def judge(self, key: str, check: Callable[[], Any]) -> Any:
        """``check()``, its ``CredentialsError`` (unless it only says credentials are
        missing) recorded as a failure of its key, else of ``key``."""
        try:
            return check()
        except CredentialsError as exc:
            if not exc.missing:
                self.failures.append((exc.key or key, str(exc)))
            return None

    def reaches(self, loader: Loader) -> bool:
        """Whether run time gets down to ``loader``: no source above it is set in stack
        config or the environment (a malformed one counts: run time stops at it)."""
        for above in LOADERS[: LOADERS.index(loader)]:
            try:
                if above.read(self.run) is not None:
                    return False
            except CredentialsError:
                return False
        return True


# --- the loaders --------------------------------------------------------------------------


class Source:
    """One row of the credentials tables in docs/credentials.md: ``source`` (its name),
    ``settings`` (their stack config keys and environment variables), ``fields`` (of an object
    setting) and ``alone`` (environment variables that select it without its object). The
    tests derive the tables from these."""

    source: ClassVar[str]
    settings: ClassVar[tuple[Setting, ...]] = ()
    fields: ClassVar[tuple[Field, ...]] = ()
    alone: ClassVar[tuple[str, ...]] = ()

    def read(self, layer: Layer) -> Any:
        """Its settings, validated (no file is read); ``None`` when none is set."""
        raise NotImplementedError

    def check(self, preview: Preview) -> None:
        """Record what a preview can judge of it."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Loader(Source):
    """A source of base credentials (a row of ``LOADERS``)."""

    def load(self, found: Any, run: Run) -> Spec:
        """The spec of the credentials ``found`` (what ``read`` gave) stand for."""
        raise NotImplementedError


class AccessKeyPair(Loader):
    source = "AccessKey pair"
    settings = (ACCESS_KEY, SECRET_KEY, SECURITY_TOKEN)

    def read(self, layer: Layer) -> tuple[tuple[str | None, str | None], ...] | None:
        found = tuple(layer.first(setting) for setting in self.settings)
        (key_id, _), (secret, _), _ = found
        return found if key_id or secret else None

    def load(self, found: tuple[tuple[str | None, str | None], ...], run: Run) -> AccessKey:
        (key_id, key_src), (secret, secret_src), (token, _) = found
        if not key_id or not secret:
            have, missing = (
                ("access key id", "alicloud:secretKey / ALICLOUD_SECRET_KEY")
                if key_id
                else ("access key secret", "alicloud:accessKey / ALICLOUD_ACCESS_KEY")
            )
            raise CredentialsError(
                f"incomplete Alibaba Cloud credentials: found the {have} "
                f"({key_src or secret_src}) but not its partner; set {missing}",
                key=SECRET_KEY.config_key if key_id else ACCESS_KEY.config_key,
            )
        return AccessKey(Credentials(key_id, secret, token), str(key_src))


class NamedProfile(Loader):
    source = "named profile"
    settings = (PROFILE, PROFILE_FILE)

    def read(self, layer: Layer) -> str | None:
        return layer.first(PROFILE)[0]

    def load(self, found: str, run: Run) -> Spec:
        profile = load_profile(run.path, found)
        assert profile is not None  # a named profile is found or refused
        return profile.spec(run.region, run.sts_override)

    def check(self, preview: Preview) -> None:
        name = clean(preview.judged.value(PROFILE))  # stack config only
        if name:
            path = profile_file(preview.judged)
            preview.judge(PROFILE.config_key, lambda: check_profile(path, name))


class EcsRoleName(Loader):
    source = "ECS instance RAM role"
    settings = (ECS_ROLE_NAME,)

    def read(self, layer: Layer) -> tuple[str, str] | None:
        value, where = layer.first(ECS_ROLE_NAME)
        if value is None or where is None:
            return None
        if not ROLE_NAME_RE.match(value):
            raise CredentialsError(
                f"{where}: {value!r} is not a RAM role name (1 to 64 letters, digits, '.', "
                "'-', '_')",
                key=where_key(where.removeprefix("stack config ")),
            )
        return value, where.removeprefix("stack config ")

    def load(self, found: tuple[str, str], run: Run) -> EcsRole:
        return EcsRole(found[0], metadata_endpoint(run.layer.environ), found[1])

    def check(self, preview: Preview) -> None:
        preview.judge(ECS_ROLE_NAME.config_key, lambda: self.read(preview.judged))


class OidcRole(Loader):
    source = "OIDC role"
    settings = (ASSUME_ROLE_WITH_OIDC,)
    fields = OIDC_FIELDS
    alone = OIDC_ENV_TRIO

    def read(self, layer: Layer) -> Oidc | None:
        """``alicloud:assumeRoleWithOidc`` (or the SDKs' environment trio), validated; its
        role and provider ARNs may be missing, its STS endpoint is not known yet."""
        raw = layer.object(ASSUME_ROLE_WITH_OIDC)
        if raw is None and not all(clean(layer.environ.get(name)) for name in self.alone):
            return None
        values = layer.fields(raw, ASSUME_ROLE_WITH_OIDC, self.fields)
        token_file = text(values.get("oidcTokenFile"))
        return Oidc(
            role_arn=arn(values.get("roleArn"), ROLE_ARN_RE, ROLE_ARN),
            oidc_provider_arn=arn(values.get("oidcProviderArn"), OIDC_PROVIDER_ARN_RE, OIDC_ARN),
            token=text(values.get("oidcToken")),
            token_file=token_file,
            session_name=session_name(values.get("roleSessionName")),
            duration=duration(values.get("sessionExpiration")),
            policy=policy(values.get("policy")),
            sts_endpoint="",
            source=ASSUME_ROLE_WITH_OIDC.config_key
            if raw is not None
            else "environment ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
            token_file_key=where_key(values["oidcTokenFile"][1]) if token_file else None,
        )

    def load(self, found: Oidc, run: Run) -> Oidc:
        sts_endpoint = run.sts_endpoint  # the region is checked first
        missing = [
            name
            for name, value in (
                ("roleArn", found.role_arn),
                ("oidcProviderArn", found.oidc_provider_arn),
            )
            if not value
        ]
        if not found.token and not found.token_file:
            missing.append("oidcToken or oidcTokenFile")
        if missing:
            raise CredentialsError(
                f"{found.source} lacks {', '.join(missing)} (set them in the object, or "
                "ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN, "
                "ALIBABA_CLOUD_OIDC_TOKEN_FILE)",
                key=ASSUME_ROLE_WITH_OIDC.config_key,
            )
        token_file = None if found.token else found.token_file
        return replace(found, token_file=token_file, sts_endpoint=sts_endpoint)

    def check(self, preview: Preview) -> None:
        oidc = preview.judge(ASSUME_ROLE_WITH_OIDC.config_key, lambda: self.read(preview.judged))
        if oidc is not None and oidc.token_file and not oidc.token and oidc.token_file_key:
            key = oidc.token_file_key
            preview.judge(key, lambda: _check_token_file(oidc.token_file, key))


def _check_token_file(path: str, key: str) -> None:
    try:
        with open(Path(path).expanduser(), "rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise CredentialsError(
            f"{key}: cannot read the OIDC token file {path!r}: {exc.strerror or exc}", key=key
        ) from None


class CurrentProfile(Loader):
    """The profile file's ``current`` profile, as the aliyun CLI reads it: our addition to
    Terraform's sources, after every explicit one. Always set: whether the file has one is
    known only by reading it, and without it the credentials are missing."""

    source = "current profile"

    def read(self, layer: Layer) -> bool:
        return True

    def load(self, found: bool, run: Run) -> Spec:
        try:
            profile = load_profile(run.path, None)
        except CredentialsError as exc:
            raise _in_current_profile(exc, run.path) from None
        if profile is None:
            raise CredentialsError(_missing_credentials_message(run.path), missing=True)
        region = run.region
        try:
            return profile.spec(region, run.sts_override)
        except CredentialsError as exc:
            raise _in_current_profile(exc, run.path) from None

    def check(self, preview: Preview) -> None:
        if not preview.reaches(self):
            return
        path = profile_file(preview.run)

        def current_profile() -> None:
            try:
                check_profile(path, None)
            except CredentialsError as exc:
                raise _in_current_profile(exc, path) from None

        preview.judge(PROFILE.config_key, current_profile)


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


CURRENT_PROFILE = CurrentProfile()

LOADERS: tuple[Loader, ...] = (
    AccessKeyPair(),
    NamedProfile(),
    EcsRoleName(),
    OidcRole(),
    CURRENT_PROFILE,
)
"""The sources of base credentials, first set wins (the last one is always set)."""


# --- the role on top ----------------------------------------------------------------------


class AssumeRoleOnTop(Source):
    """``alicloud:assumeRole``: STS ``AssumeRole`` signed with the base credentials. As in
    Terraform, it replaces a ``RamRoleArn`` profile's own role (that profile's AccessKey
    assumes the configured one)."""

    source = "role to assume"
    settings = (ASSUME_ROLE,)
    fields = ASSUME_ROLE_FIELDS
    alone = ASSUME_ROLE_ENV_ALONE

    def read(self, layer: Layer) -> AssumeRole | None:
        """``alicloud:assumeRole`` (or ``ALICLOUD_ASSUME_ROLE_ARN`` alone), validated, without
        its base; ``None`` when no role is to be assumed."""
        raw = layer.object(ASSUME_ROLE)
        _, env_name = layer.env_first(self.alone)
        if raw is None and env_name is None:
            return None
        values = layer.fields(raw, ASSUME_ROLE, self.fields)
        external_id = text(values.get("externalId"))
        return AssumeRole(
            base=None,
            role_arn=arn(values.get("roleArn"), ROLE_ARN_RE, ROLE_ARN),
            session_name=session_name(values.get("sessionName")),
            duration=duration(values.get("sessionExpiration")),
            policy=policy(values.get("policy")),
            external_id=external_id,
            sts_endpoint="",
            source=ASSUME_ROLE.config_key if raw is not None else f"environment {env_name}",
        )

    def on(self, role: AssumeRole | None, base: Spec, run: Run) -> Spec:
        """``role`` assumed with ``base``'s credentials (``base`` when there is no role)."""
        if role is None:
            return base
        if not role.role_arn:
            raise CredentialsError(
                f"{role.source} has no roleArn (set it in the object, or ALICLOUD_ASSUME_ROLE_ARN)",
                key=f"{ASSUME_ROLE.config_key}.roleArn",
            )
        if isinstance(base, AssumeRole) and base.from_profile:
            base = base.base
        return replace(role, base=base, sts_endpoint=run.sts_endpoint)

    def check(self, preview: Preview) -> None:
        preview.judge(ASSUME_ROLE.config_key, lambda: self.read(preview.judged))


ROLE_ON_TOP = AssumeRoleOnTop()


# --- run time and preview -----------------------------------------------------------------


def resolve_settings(
    stack_config: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    profile_path: str | os.PathLike | None = None,
) -> ResolvedSettings:
    """Resolve credentials, region and endpoint overrides (docs/credentials.md).

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
    layer = Layer(stack_config, os.environ if environ is None else environ)
    found = [loader.read(layer) for loader in LOADERS]  # every setting validated, used or not
    role = ROLE_ON_TOP.read(layer)
    raw_endpoints = layer.value(ENDPOINTS)
    endpoints = parse_endpoints(raw_endpoints)
    sts_override = parse_sts_endpoint(raw_endpoints)
    path = profile_file(layer, profile_path)

    loader, setting = next((lo, f) for lo, f in zip(LOADERS, found, strict=True) if f is not None)
    run = Run(layer, path, sts_override, loader)
    base = loader.load(setting, run)
    region = run.region
    spec = ROLE_ON_TOP.on(role, base, run)
    return ResolvedSettings(provider_for(spec), region, endpoints, run.sts_endpoint, describe(spec))


def check_credential_config(
    config: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    """What a preview can judge of the credential settings in stack ``config``, as
    ``(key, reason)`` failures, source by source (``LOADERS``, then ``ROLE_ON_TOP``): a
    malformed role or OIDC provider ARN, session name or lifetime or policy, an unreadable
    ``oidcTokenFile``, a malformed ``sts`` endpoint, and the profile run time would use: the
    one named in ``alicloud:profile``, or else, exactly when run time would fall through to
    it, the profile file's ``current`` profile. Such a profile fails when its mode (or a mode
    down its ``source_profile`` chain) is unknown, its chain loops or holds more than
    ``MAX_CHAIN_DEPTH`` profiles, or the file is not the aliyun CLI's JSON. Missing
    credentials are never reported: previews run without secrets.

    Only stack config is judged (the environment of a preview job is not the deploy job's).
    ``environ`` (default ``os.environ``) is used for one thing, as at run time: whether some
    source above the current profile is set there (then that profile is not checked) and
    which file it would be read from (``ALICLOUD_SHARED_CREDENTIALS_FILE``, ``HOME``). An
    ``environ`` passed explicitly is judged too (tests)."""
    preview = Preview(
        judged=Layer(config, {} if environ is None else environ),
        run=Layer(config, os.environ if environ is None else environ),
    )
    for source in (*LOADERS, ROLE_ON_TOP):
        source.check(preview)
    return preview.failures
