"""The aliyun CLI profile file (``~/.aliyun/config.json``): its profiles as specs.

``load_profile`` finds a profile by name, or the file's ``current`` one; ``Profile.spec``
gives what to build for it, by its mode: ``MODES``, one small function each, whose keys are
``SUPPORTED_PROFILE_MODES`` (what each mode reads is in docs/credentials.md, "Profile
modes"). A ``ChainableRamRoleArn`` profile's ``source_profile`` chain holds at most
``MAX_CHAIN_DEPTH`` profiles, the selected one included, and must not loop; both are refused
before anything is built, let alone called. A profile's ``sts_region`` picks the STS endpoint
of its roles. Every error is keyed ``alicloud:profile`` (``alicloud:sharedCredentialsFile``
for a file that is not the CLI's).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .credential_types import Credentials, CredentialsError
from .settings import (
    DEFAULT_REGION,
    DEFAULT_SESSION_NAME,
    DEFAULT_SESSION_SECONDS,
    OIDC_ARN,
    OIDC_PROVIDER_ARN_RE,
    PROFILE,
    PROFILE_FILE,
    ROLE_ARN,
    ROLE_ARN_RE,
    Layer,
    clean,
    default_sts_endpoint,
    duration,
    session_name,
)
from .specs import AccessKey, AssumeRole, EcsRole, Oidc, Spec
from .sts import METADATA_ENDPOINT

DEFAULT_PROFILE_PATH = "~/.aliyun/config.json"
"""aliyun CLI profile file read when no other path is configured."""

MAX_CHAIN_DEPTH = 10
"""Most profiles a ``source_profile`` chain may hold, the selected one included: each
``ChainableRamRoleArn`` link is one ``AssumeRole`` call, so a longer chain is refused (at
preview and before any call) instead of being walked."""

_KEY = PROFILE.config_key
_SELF_CONTAINED_MODES = "AK, StsToken, RamRoleArn, EcsRamRole or OIDC"


def profile_file(layer: Layer, profile_path: str | os.PathLike | None = None) -> Path:
    """``profile_path``, else ``alicloud:sharedCredentialsFile`` (or its environment), else
    ``$HOME/.aliyun/config.json``."""
    if profile_path is not None:
        return Path(profile_path).expanduser()
    value, _ = layer.first(PROFILE_FILE)
    if value is None:
        home = layer.environ.get("HOME")
        path = Path(home, ".aliyun", "config.json") if home else Path(DEFAULT_PROFILE_PATH)
        return path.expanduser()
    return Path(value).expanduser()


@dataclass(frozen=True, eq=False)
class ProfileFile:
    """A profile file as read: its path and its JSON (with a ``profiles`` list)."""

    path: Path
    data: Mapping[str, Any]

    @classmethod
    def read(cls, path: Path) -> ProfileFile | None:
        """The file at ``path``, or ``None`` when there is none."""
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CredentialsError(
                f"cannot read profile file {str(path)!r}: {exc}", key=PROFILE_FILE.config_key
            ) from None
        profiles = data.get("profiles") if isinstance(data, dict) else None
        if not isinstance(profiles, list):
            raise CredentialsError(
                f"profile file {str(path)!r} has no 'profiles' list",
                key=PROFILE_FILE.config_key,
            )
        return cls(path, data)

    def profiles(self) -> list[dict[str, Any]]:
        return [p for p in self.data.get("profiles") or [] if isinstance(p, dict)]

    def find(self, name: str) -> Profile | None:
        for values in self.profiles():
            if values.get("name") == name:
                return Profile(name, values, self)
        return None


def load_profile(path: Path, name: str | None) -> Profile | None:
    """The profile ``name`` of the file at ``path``; ``name=None`` selects its ``current``
    profile.

    Returns ``None`` when no name was given and the file (or its current profile) does not
    exist; raises ``CredentialsError`` when a named profile cannot be found or the file is
    malformed.
    """
    file = ProfileFile.read(path)
    if file is None:
        if name:
            raise CredentialsError(
                f"profile {name!r} was requested but the profile file {str(path)!r} does not "
                "exist; run `aliyun configure` or set alicloud:sharedCredentialsFile",
                key=_KEY,
                missing=True,
            )
        return None
    wanted = name or clean(file.data.get("current"))
    if not wanted:
        return None
    profile = file.find(wanted)
    if profile is not None or not name:
        return profile
    names = ", ".join(str(p.get("name")) for p in file.profiles())
    raise CredentialsError(
        f"profile {name!r} not found in {str(path)!r} (available: {names or 'none'})",
        key=_KEY,
        missing=True,
    )


def check_profile(path: Path, name: str | None) -> None:
    """What a preview judges of a profile (``None``: the current one): everything ``spec``
    refuses, the file included; nothing is called, and a missing profile is no failure."""
    profile = load_profile(path, name)
    if profile is not None:
        profile.spec(DEFAULT_REGION, None)


@dataclass(frozen=True, eq=False)
class Profile:
    """One profile of a ``ProfileFile``: its name and its keys."""

    name: str
    values: Mapping[str, Any]
    file: ProfileFile

    @property
    def mode(self) -> str:
        return clean(self.values.get("mode")) or "AK"

    @property
    def where(self) -> str:
        return f"profile {self.name!r} ({self.mode}) in {str(self.file.path)!r}"

    @property
    def region_id(self) -> str | None:
        return clean(self.values.get("region_id"))

    def text(self, key: str) -> str | None:
        value = self.values.get(key)
        return clean(value) if isinstance(value, str) else None

    def need(self, *keys: str) -> None:
        missing = [k for k in keys if not self.text(k)]
        if missing:
            raise CredentialsError(
                f"{self.where} lacks {', '.join(missing)}", key=_KEY, missing=True
            )

    def role_arn(self) -> str:
        value = self.text("ram_role_arn") or ""
        if not ROLE_ARN_RE.match(value):
            raise CredentialsError(
                f"{self.where}: ram_role_arn {value!r} is not {ROLE_ARN}", key=_KEY
            )
        return value

    def session_name(self, *keys: str) -> str:
        for key in keys:
            value = self.text(key)
            if value:
                try:
                    return session_name((value, f"{self.where} {key}"))
                except CredentialsError as exc:
                    raise CredentialsError(str(exc), key=_KEY) from None
        return DEFAULT_SESSION_NAME

    def seconds(self) -> int:
        value = self.values.get("expired_seconds")
        if value in (None, "", 0):
            return DEFAULT_SESSION_SECONDS
        try:
            return duration((value, f"{self.where} expired_seconds"))
        except CredentialsError as exc:
            raise CredentialsError(str(exc), key=_KEY) from None

    def spec(self, region: str, sts_override: str | None) -> Spec:
        """What to build for this profile, by its mode; ``region`` and ``sts_override`` (the
        ``sts`` key of ``alicloud:endpoints``) pick the STS endpoint of its roles."""
        return _Chain(region, sts_override).spec(self)


@dataclass(frozen=True)
class _Chain:
    """The walk down a ``source_profile`` chain: where STS is, and the profiles above."""

    region: str
    sts_override: str | None
    above: tuple[str, ...] = ()

    def spec(self, profile: Profile) -> Spec:
        mode = MODES.get(profile.mode)
        if mode is None:
            raise CredentialsError(
                f"profile {profile.name!r} in {str(profile.file.path)!r} uses mode "
                f"{profile.mode!r}, which restart-trigger does not support; supported modes "
                f"are {', '.join(SUPPORTED_PROFILE_MODES)}.",
                key=_KEY,
            )
        return mode(profile, self)

    def sts_endpoint(self, profile: Profile) -> str:
        region = clean(profile.values.get("sts_region")) or self.region
        return self.sts_override or default_sts_endpoint(region)


# --- the modes ----------------------------------------------------------------------------


def _access_key(profile: Profile, chain: _Chain) -> AccessKey:
    profile.need("access_key_id", "access_key_secret")
    pair = Credentials(profile.text("access_key_id") or "", profile.text("access_key_secret") or "")
    return AccessKey(pair, profile.where)


def _sts_token(profile: Profile, chain: _Chain) -> AccessKey:
    profile.need("access_key_id", "access_key_secret")
    profile.need("sts_token")
    pair = Credentials(
        profile.text("access_key_id") or "",
        profile.text("access_key_secret") or "",
        profile.text("sts_token"),
    )
    return AccessKey(pair, profile.where)


def _assume_role(profile: Profile, chain: _Chain, base: Spec, **extra: Any) -> AssumeRole:
    return AssumeRole(
        base=base,
        role_arn=profile.role_arn(),
        session_name=profile.session_name("ram_session_name"),
        duration=profile.seconds(),
        policy=profile.text("policy"),
        external_id=profile.text("external_id"),
        sts_endpoint=chain.sts_endpoint(profile),
        source=profile.where,
        **extra,
    )


def _ram_role_arn(profile: Profile, chain: _Chain) -> AssumeRole:
    return _assume_role(profile, chain, _access_key(profile, chain), from_profile=True)


def _ecs_ram_role(profile: Profile, chain: _Chain) -> EcsRole:
    profile.need("ram_role_name")
    return EcsRole(profile.text("ram_role_name") or "", METADATA_ENDPOINT, profile.where)


def _oidc(profile: Profile, chain: _Chain) -> Oidc:
    profile.need("ram_role_arn", "oidc_provider_arn", "oidc_token_file")
    provider_arn = profile.text("oidc_provider_arn") or ""
    if not OIDC_PROVIDER_ARN_RE.match(provider_arn):
        raise CredentialsError(
            f"{profile.where}: oidc_provider_arn {provider_arn!r} is not {OIDC_ARN}", key=_KEY
        )
    return Oidc(
        role_arn=profile.role_arn(),
        oidc_provider_arn=provider_arn,
        token=None,
        token_file=profile.text("oidc_token_file"),
        session_name=profile.session_name("role_session_name", "ram_session_name"),
        duration=profile.seconds(),
        policy=profile.text("policy"),
        sts_endpoint=chain.sts_endpoint(profile),
        source=profile.where,
    )


def _chainable_ram_role_arn(profile: Profile, chain: _Chain) -> AssumeRole:
    profile.need("source_profile", "ram_role_arn")
    source_name = profile.text("source_profile") or ""
    names = (*chain.above, profile.name)
    if source_name in names:
        raise _loop_error(profile.where, source_name, names)
    source = profile.file.find(source_name)
    if source is None:
        raise CredentialsError(
            f"{profile.where}: source_profile {source_name!r} not found", key=_KEY
        )
    if len(names) >= MAX_CHAIN_DEPTH:  # the source would be profile MAX_CHAIN_DEPTH + 1
        raise _chain_too_deep(names, source)
    base = _Chain(chain.region, chain.sts_override, names).spec(source)
    return _assume_role(profile, chain, base)


MODES: Mapping[str, Callable[[Profile, _Chain], Spec]] = {
    "AK": _access_key,
    "StsToken": _sts_token,
    "RamRoleArn": _ram_role_arn,
    "EcsRamRole": _ecs_ram_role,
    "OIDC": _oidc,
    "ChainableRamRoleArn": _chainable_ram_role_arn,
}
"""What each profile mode gives (the aliyun CLI's names)."""

SUPPORTED_PROFILE_MODES: tuple[str, ...] = tuple(MODES)


# --- a chain that loops or goes on too long ------------------------------------------------


def _show_chain(names: list[str]) -> str:
    if len(names) <= 12:
        return " -> ".join(names)
    return f"{' -> '.join(names[:3])} -> ... -> {' -> '.join(names[-2:])}"


def _loop_error(where: str, source_name: str, chain: tuple[str, ...]) -> CredentialsError:
    return CredentialsError(
        f"{where}: source_profile {source_name!r} loops back "
        f"({_show_chain([*chain, source_name])}); a source_profile "
        f"chain must end at a profile with credentials of its own ({_SELF_CONTAINED_MODES})",
        key=_KEY,
    )


def _chain_too_deep(chain: tuple[str, ...], source: Profile) -> CredentialsError:
    """The error for a chain that goes on past ``MAX_CHAIN_DEPTH`` profiles: walks the rest
    of it by name only (nothing is built, nothing called), so that a loop further down is
    still reported as a loop, and a plain chain with its whole depth."""
    names = list(chain)
    seen = set(names)
    profile = source
    while True:
        names.append(profile.name)
        seen.add(profile.name)
        following = profile.text("source_profile")
        if profile.mode != "ChainableRamRoleArn" or not following:
            break
        if not profile.text("ram_role_arn"):
            break
        if following in seen:
            return _loop_error(profile.where, following, tuple(names))
        found = profile.file.find(following)
        if found is None:
            break
        profile = found
    return CredentialsError(
        f"profile {chain[0]!r} in {str(source.file.path)!r}: its source_profile chain is "
        f"{len(names)} profiles deep ({_show_chain(names)}), more than the {MAX_CHAIN_DEPTH} "
        "restart-trigger follows (MAX_CHAIN_DEPTH; every ChainableRamRoleArn link is one "
        "AssumeRole call); shorten it: let a profile within the first "
        f"{MAX_CHAIN_DEPTH} have credentials of its own ({_SELF_CONTAINED_MODES}) or point "
        "its source_profile at one that has",
        key=_KEY,
    )
