"""restart-trigger: restart Alibaba Cloud applications from Pulumi when their configuration
changes, and keep each change order's id as an output.

    from restart_trigger import RestartTrigger, EdasApplication, SaeApplication, hash_paths

    RestartTrigger("api-config",
                   targets=[EdasApplication(app_id="..."), SaeApplication(app_id="...")],
                   hash=hash_paths("config/api"))

Kinds of target: ``EdasApplication`` (EDAS, ECS clusters), ``EdasK8sApplication`` (EDAS,
Kubernetes clusters), ``SaeApplication`` (Serverless App Engine), ``WebPlusEnvironment``.
``Verify`` / ``HttpProbe``: what must pass after a restart (``verify=``).

The names below load lazily, so ``import restart_trigger.hashing`` (or the cloud client,
``restart_trigger.aliyun``) loads neither ``pulumi`` nor ``grpc``: only the resource does.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.3.0"

# public name -> the module that defines it
_EXPORTS = {
    "RestartTrigger": "restart_trigger.resource",
    "RestartFailed": "restart_trigger.runner",
    "EdasApplication": "restart_trigger.targets.edas",
    "WebPlusEnvironment": "restart_trigger.targets.webplus",
    "SaeApplication": "restart_trigger.targets.sae",
    "EdasK8sApplication": "restart_trigger.targets.k8s",
    "Verify": "restart_trigger.verify",
    "HttpProbe": "restart_trigger.verify",
    "hash_paths": "restart_trigger.hashing",
    "hash_values": "restart_trigger.hashing",
}

__all__ = [
    "EdasApplication",
    "EdasK8sApplication",
    "HttpProbe",
    "RestartFailed",
    "RestartTrigger",
    "SaeApplication",
    "Verify",
    "WebPlusEnvironment",
    "hash_paths",
    "hash_values",
]

if TYPE_CHECKING:
    from restart_trigger.hashing import hash_paths, hash_values
    from restart_trigger.resource import RestartTrigger
    from restart_trigger.runner import RestartFailed
    from restart_trigger.targets.edas import EdasApplication
    from restart_trigger.targets.k8s import EdasK8sApplication
    from restart_trigger.targets.sae import SaeApplication
    from restart_trigger.targets.webplus import WebPlusEnvironment
    from restart_trigger.verify import HttpProbe, Verify


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'restart_trigger' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
