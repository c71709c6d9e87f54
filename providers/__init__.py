"""restart-trigger: restart Alibaba Cloud EDAS applications and Web+ environments from Pulumi
when their configuration changes.

    from providers import RestartTrigger, EdasApplication, WebPlusEnvironment, hash_paths

    RestartTrigger("api-config",
                   targets=[EdasApplication(app_id="...")],
                   hash=hash_paths("config/api"))
"""

from providers.hashing import hash_paths, hash_values
from providers.restart_trigger import RestartFailed, RestartTrigger, RestartTriggerProvider
from providers.targets import EdasApplication, WebPlusEnvironment

__all__ = [
    "EdasApplication",
    "RestartFailed",
    "RestartTrigger",
    "RestartTriggerProvider",
    "WebPlusEnvironment",
    "hash_paths",
    "hash_values",
]
