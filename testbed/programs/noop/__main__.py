"""One Noop dynamic resource whose value comes from stack config (default "hello")."""

import pulumi

from testbed.noop import Noop

value = pulumi.Config().get("value") or "hello"
resource = Noop("noop", value)
pulumi.export("value", resource.value)
