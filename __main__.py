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
        wait: true                               # any RestartTrigger option

Credentials, region and endpoints come from the `alicloud:*` config (as for pulumi-alicloud)
or the environment; see README.md.
"""

from __future__ import annotations

from typing import Any

import pulumi

from providers import RestartTrigger, hash_paths

OPTIONS = ("restart_on_create", "wait", "timeout", "max_parallel", "region", "endpoint")


def _trigger(index: int, spec: Any) -> RestartTrigger:
    where = f"restart-trigger:triggers[{index}]"
    if not isinstance(spec, dict):
        raise ValueError(f"{where} must be a mapping with name, paths and targets")
    unknown = sorted(set(spec) - {"name", "paths", "targets", *OPTIONS})
    if unknown:
        raise ValueError(
            f"{where}.{unknown[0]} is not a trigger setting; use one of "
            f"name, paths, targets, {', '.join(OPTIONS)}"
        )
    name, paths = spec.get("name"), spec.get("paths")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}.name must be a non-empty string (the resource name)")
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
        raise ValueError(f"{where}.paths must list the config folders or files to hash")
    # Targets go to the provider as given: its check() validates them field by field.
    return RestartTrigger(
        name,
        targets=spec.get("targets"),
        hash=hash_paths(*paths),
        **{k: spec[k] for k in OPTIONS if k in spec},
    )


config = pulumi.Config()
for i, spec in enumerate(config.require_object("triggers")):
    trigger = _trigger(i, spec)
    name = spec["name"]
    pulumi.export(f"{name}.hash", trigger.hash)
    pulumi.export(f"{name}.change_order_ids", trigger.change_order_ids)
    pulumi.export(f"{name}.statuses", trigger.statuses)
    pulumi.export(f"{name}.restarted_at", trigger.restarted_at)
