"""The fleet program (testbed/programs/fleet) with ``verify`` on: each trigger's targets are
probed at ``fleet:verify_url`` after their restart (bench P3 with verify).

fleet:count, fleet:targets_per_resource, fleet:target_kind, fleet:hash   as for the fleet
fleet:verify_url   the URL every target's probe GETs (a loopback service answering at once)
"""

import pulumi

from restart_trigger import (
    EdasApplication,
    HttpProbe,
    RestartTrigger,
    Verify,
    WebPlusEnvironment,
)
from testbed.fleet import target_ids

config = pulumi.Config("fleet")
count = config.require_int("count")
per = config.get_int("targets_per_resource") or 1
target_kind = config.get("target_kind") or "edas"
hash_value = config.get("hash") or "v1"
verify = Verify(http=[HttpProbe(url=config.require("verify_url"))], interval=0.5)

CLASSES = {
    "edas": lambda ident: EdasApplication(app_id=ident),
    "webplus": lambda ident: WebPlusEnvironment(env_id=ident),
}
ids = target_ids(count * per, target_kind)
for i in range(count):
    targets = [CLASSES[k](ident) for k, ident in ids[i * per : (i + 1) * per]]
    RestartTrigger(f"trigger-{i:04d}", targets=targets, hash=hash_value, verify=verify)
