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

With many targets (the whole stack config must fit in one environment variable of about
128 KiB, see docs/reference.md "Many targets: the config size limit"), keep the same list in a
JSON file instead and name it, relative to the project folder, in `restart-trigger:triggersFile`
(set only one of the two keys):

    restart-trigger:triggersFile: triggers.json

Credentials, region and endpoints come from the `alicloud:*` config (as for pulumi-alicloud)
or the environment; see README.md.
"""

from __future__ import annotations

import json
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


def _trigger(where: str, spec: Any) -> RestartTrigger:
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


def _triggers_file(rel: str) -> list[Any]:
    """The triggers list in the JSON file `restart-trigger:triggersFile` names."""
    key = "restart-trigger:triggersFile"
    if not rel.strip():
        raise ConfigError(f"{key} must be the path of a JSON file of triggers, got an empty string")
    path = os.path.join(os.getcwd(), rel)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ConfigError(
            f"{key}: {rel!r} does not exist in the project folder {os.getcwd()}; "
            "give the path of a JSON file holding the list of triggers"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{key}: cannot read {rel!r}: {exc}") from None
    try:
        triggers = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{key}: {rel!r} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(triggers, list):
        raise ConfigError(
            f'{key}: {rel!r} must hold a JSON list of triggers ([{{"name": ...}}, ...]), '
            f"got a {type(triggers).__name__}"
        )
    return triggers


config = pulumi.Config()
triggers_file = config.get("triggersFile")
if triggers_file is None:
    prefix = "restart-trigger:triggers"
    triggers = config.require_object("triggers")
    if not isinstance(triggers, list):
        raise ConfigError(
            "restart-trigger:triggers must be a list of triggers (start each entry with '- '), "
            f"got a {type(triggers).__name__}"
        )
elif config.get("triggers") is not None:
    raise ConfigError(
        "restart-trigger:triggers and restart-trigger:triggersFile are both set; set only one: "
        "`pulumi config rm restart-trigger:triggers` to use the file"
    )
else:
    prefix = triggers_file  # errors name the entry in the file: triggers.json[3].paths
    triggers = _triggers_file(triggers_file)
seen: dict[str, int] = {}
for i, spec in enumerate(triggers):
    name = spec.get("name") if isinstance(spec, dict) else None
    if isinstance(name, str) and name in seen:
        raise ConfigError(
            f"{prefix}[{i}].name: duplicate name {name!r} (also "
            f"{prefix}[{seen[name]}]); give each trigger its own name"
        )
    trigger = _trigger(f"{prefix}[{i}]", spec)
    seen[name] = i
    pulumi.export(f"{name}.hash", trigger.hash)
    pulumi.export(f"{name}.change_order_ids", trigger.change_order_ids)
    pulumi.export(f"{name}.statuses", trigger.statuses)
    pulumi.export(f"{name}.restarted_at", trigger.restarted_at)
