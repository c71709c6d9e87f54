"""A fleet of resources whose shape comes from stack config (see testbed/fleet.py).

fleet:kind                 trigger | noop
fleet:count                how many resources
fleet:targets_per_resource targets in each trigger (default 1)
fleet:target_kind          edas | webplus | sae | edas-k8s | mixed (EDAS and Web+ alternating)
                           | four (the four kinds in turn)
fleet:hash                 the hash every trigger carries (change it to restart everything)
fleet:wait                 the triggers' wait option (default true)
fleet:timeout              the triggers' timeout option (default 1800)
"""

import pulumi

from restart_trigger import (
    EdasApplication,
    EdasK8sApplication,
    RestartTrigger,
    SaeApplication,
    WebPlusEnvironment,
)
from testbed.fleet import target_ids
from testbed.noop import Noop

config = pulumi.Config("fleet")
kind = config.get("kind") or "trigger"
count = config.require_int("count")
per = config.get_int("targets_per_resource") or 1
target_kind = config.get("target_kind") or "edas"
hash_value = config.get("hash") or "v1"
wait = config.get_bool("wait")
timeout = config.get_float("timeout")

ids = target_ids(count * per, target_kind)
TARGET_CLASSES = {
    "edas": lambda ident: EdasApplication(app_id=ident),
    "webplus": lambda ident: WebPlusEnvironment(env_id=ident),
    "sae": lambda ident: SaeApplication(app_id=ident),
    "edas-k8s": lambda ident: EdasK8sApplication(app_id=ident),
}
for i in range(count):
    if kind == "noop":
        Noop(f"noop-{i:04d}", hash_value)
        continue
    targets = [TARGET_CLASSES[k](ident) for k, ident in ids[i * per : (i + 1) * per]]
    RestartTrigger(f"trigger-{i:04d}", targets=targets, hash=hash_value, wait=wait, timeout=timeout)
