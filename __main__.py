"""The example stack: one RestartTrigger per entry of the `restart-trigger:triggers` config.

Each entry names the folders whose content drives its hash and the targets to restart:

    restart-trigger:triggers:
      - name: orders-config
        paths: [config/orders]
        targets:
          - app_id: <EDAS application id>        # optional: ecc_ids: [...]
      - name: web-config
        paths: [config/web]
        targets:
          - env_id: <Web+ environment id>        # optional: batch_size, batch_percent, ...
          - kind: sae                            # an SAE application (its id is a UUID)
            app_id: <SAE application id>         # optional: min_ready_instances, ...
          - kind: edas-k8s                       # an EDAS application in a Kubernetes cluster
            app_id: <EDAS application id>        # optional: timeout
        wait: true                               # any RestartTrigger option

Credentials, region and endpoints come from the `alicloud:*` config (as for pulumi-alicloud)
or the environment; see README.md.
"""

from __future__ import annotations

import os
from typing import Any

import pulumi

from restart_trigger import RestartTrigger, hash_paths
from restart_trigger.inputs import OPTIONS


class ConfigError(pulumi.RunError, ValueError):
    """A mistake in this stack's config: printed without a Python traceback."""


def _hash(where: str, paths: list[str]) -> str:
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise ConfigError(
            f"{where}.paths: {missing[0]!r} does not exist in the project folder {os.getcwd()}; "
            "list existing config folders or files"
        )
    try:
        return hash_paths(*paths)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{where}.paths: {exc}") from None


def _trigger(index: int, spec: Any) -> RestartTrigger:
    where = f"restart-trigger:triggers[{index}]"
    if not isinstance(spec, dict):
        raise ConfigError(f"{where} must be a mapping with name, paths and targets")
    unknown = sorted(set(spec) - {"name", "paths", "targets", *OPTIONS})
    if unknown:
        raise ConfigError(
            f"{where}.{unknown[0]} is not a trigger setting; use one of "
            f"name, paths, targets, {', '.join(OPTIONS)}"
        )
    name, paths = spec.get("name"), spec.get("paths")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}.name must be a non-empty string (the resource name)")
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
        raise ConfigError(f"{where}.paths must list the config folders or files to hash")
    # Targets go to the provider as given: its check() validates them field by field.
    return RestartTrigger(
        name,
        targets=spec.get("targets"),
        hash=_hash(where, paths),
        **{k: spec[k] for k in OPTIONS if k in spec},
    )


config = pulumi.Config()
triggers = config.require_object("triggers")
if not isinstance(triggers, list):
    raise ConfigError(
        "restart-trigger:triggers must be a list of triggers (start each entry with '- '), "
        f"got a {type(triggers).__name__}"
    )
seen: dict[str, int] = {}
for i, spec in enumerate(triggers):
    name = spec.get("name") if isinstance(spec, dict) else None
    if isinstance(name, str) and name in seen:
        raise ConfigError(
            f"restart-trigger:triggers[{i}].name: duplicate name {name!r} (also "
            f"restart-trigger:triggers[{seen[name]}]); give each trigger its own name"
        )
    trigger = _trigger(i, spec)
    seen[name] = i
    pulumi.export(f"{name}.hash", trigger.hash)
    pulumi.export(f"{name}.change_order_ids", trigger.change_order_ids)
    pulumi.export(f"{name}.statuses", trigger.statuses)
    pulumi.export(f"{name}.restarted_at", trigger.restarted_at)
