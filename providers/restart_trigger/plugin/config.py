"""The plugin's provider configuration: ``alirestart:*`` keys, or an explicit ``Provider``'s
inputs, read into the ``alicloud:*`` settings the core's credential chain resolves.

The keys are the schema's ``config.variables`` and have the names, meaning and precedence of
the dynamic provider's ``alicloud:*`` keys (``aliyun.settings.SETTINGS``), so the chain is
reused as it is: ``region`` is read as ``alicloud:region``, environment fallbacks included.
Values come as the engine sends them: strings from stack config (objects as JSON text),
typed values from a ``Provider`` resource (objects as objects, or JSON text from the Node.js
and Python SDKs); the chain takes both.

Pure: no pulumi import.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from restart_trigger.aliyun.settings import SETTINGS
from restart_trigger.inputs import check_stack_config
from restart_trigger.plugin.wire import Path

NAMESPACE = "alirestart"
KEYS: tuple[str, ...] = tuple(setting.key for setting in SETTINGS)
"""The configuration keys, as the schema's ``config.variables`` lists them."""

SECRET_PATHS: frozenset[Path] = frozenset(
    {("accessKey",), ("secretKey",), ("securityToken",), ("assumeRoleWithOidc", "oidcToken")}
)
"""Where a configuration holds a secret: returned from ``CheckConfig`` marked secret, whether
or not the program marked it (the SDKs mark only top-level secrets)."""

IGNORED = frozenset({"version", "pluginDownloadURL"})
"""Keys the engine adds to a provider's inputs itself."""


def _plain(value: Any) -> Any:
    """Numbers as the chain reads them: the engine sends every number as a float."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def stack_config_of(config: Mapping[str, Any]) -> dict[str, Any]:
    """``{"region": ...}`` (plain values) as the ``alicloud:*`` settings the chain reads."""
    return {
        f"alicloud:{key}": _plain(config[key]) for key in KEYS if config.get(key) not in (None, "")
    }


def secret_paths(config: Mapping[str, Any]) -> set[Path]:
    """The paths of ``config`` to return as secrets: each of :data:`SECRET_PATHS` present,
    and an ``assumeRoleWithOidc`` given as JSON text (its token is inside) as a whole."""
    paths = {p for p in SECRET_PATHS if len(p) == 1 and config.get(p[0]) not in (None, "")}
    oidc = config.get("assumeRoleWithOidc")
    if isinstance(oidc, str) and "oidcToken" in oidc:
        paths.add(("assumeRoleWithOidc",))
    elif isinstance(oidc, Mapping) and oidc.get("oidcToken"):
        paths.add(("assumeRoleWithOidc", "oidcToken"))
    elif isinstance(oidc, list):  # a list of one object, as pulumi-alicloud takes it
        paths |= {
            ("assumeRoleWithOidc", i, "oidcToken")
            for i, item in enumerate(oidc)
            if isinstance(item, Mapping) and item.get("oidcToken")
        }
    return paths


def _in_our_words(text: str) -> str:
    return text.replace("alicloud:", f"{NAMESPACE}:")


def check_config(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What a preview can judge of the configuration, as ``(key, reason)`` failures: the
    dynamic provider's ``check_stack_config`` (region, endpoints, roles, profiles), named with
    this package's keys. Missing credentials are never reported: previews run without
    secrets."""
    failures = []
    for key, reason in check_stack_config(stack_config_of(config)):
        failures.append((key.removeprefix("alicloud:"), _in_our_words(reason)))
    return failures


def unknown_keys(config: Mapping[str, Any]) -> list[str]:
    """Keys this provider does not read (a typo, most likely)."""
    return sorted(k for k in config if k not in KEYS and k not in IGNORED)
