"""The fleet program (testbed/programs/fleet) with its triggers declared through the resource
plugin: ``alirestart:index:RestartTrigger`` from the generated SDK (``pulumi_alirestart``),
served by ``pulumi-resource-alirestart`` (bench P1/P2, the plugin's rows). The default
provider reads ``alirestart:*`` (region, keys, endpoints: the emulator's).

fleet:count, fleet:targets_per_resource, fleet:target_kind, fleet:hash, fleet:wait,
fleet:timeout   as for the fleet (no ``kind``: these are always triggers)
"""

import pulumi
import pulumi_alirestart as alirestart

from testbed.fleet import target_ids

config = pulumi.Config("fleet")
count = config.require_int("count")
per = config.get_int("targets_per_resource") or 1
target_kind = config.get("target_kind") or "edas"
hash_value = config.get("hash") or "v1"
wait = config.get_bool("wait")
timeout = config.get_float("timeout")

ids = target_ids(count * per, target_kind)
TARGET_CLASSES = {
    "edas": lambda ident: alirestart.EdasApplicationArgs(kind="edas", app_id=ident),
    "webplus": lambda ident: alirestart.WebPlusEnvironmentArgs(kind="webplus", env_id=ident),
    "sae": lambda ident: alirestart.SaeApplicationArgs(kind="sae", app_id=ident),
    "edas-k8s": lambda ident: alirestart.EdasK8sApplicationArgs(kind="edas-k8s", app_id=ident),
}
for i in range(count):
    targets = [TARGET_CLASSES[k](ident) for k, ident in ids[i * per : (i + 1) * per]]
    alirestart.RestartTrigger(
        f"trigger-{i:04d}", targets=targets, hash=hash_value, wait=wait, timeout=timeout
    )
