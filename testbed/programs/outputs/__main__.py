"""A trigger whose app id and hash are Outputs of other resources, as with pulumi-alicloud.

Config: app_id (the EDAS app the Noop "app" echoes), setting (drives the hash), endpoint.
"""

import pulumi

from restart_trigger import EdasApplication, RestartTrigger, hash_values
from testbed.noop import Noop

config = pulumi.Config()
app = Noop("app", config.require("app_id"))
setting = Noop("setting", config.require("setting"))

trigger = RestartTrigger(
    "from-outputs",
    targets=[EdasApplication(app_id=app.value)],
    hash=setting.value.apply(lambda v: hash_values({"setting": v})),
)
pulumi.export("change_order_id", trigger.change_order_id)
