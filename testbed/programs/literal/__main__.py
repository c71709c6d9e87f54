"""One RestartTrigger whose inputs come as they would from a Python program.

literal:inputs   a JSON object of RestartTrigger keyword arguments; Python's JSON reader also
                 takes NaN, Infinity and -Infinity, as a program could compute them
"""

import json

import pulumi

from restart_trigger import RestartTrigger

inputs = json.loads(pulumi.Config("literal").require("inputs"))
trigger = RestartTrigger("literal", **inputs)
pulumi.export("change_order_ids", trigger.change_order_ids)
