"""A Python program on the generated SDK: one RestartTrigger per entry of the stack config
``triggers`` (``{name: {hash, targets, ...}}``, the schema's names), its outputs exported."""

import pulumi
import pulumi_alirestart as alirestart

config = pulumi.Config()
for name, spec in (config.get_object("triggers") or {}).items():
    options = {k: v for k, v in spec.items() if k not in ("hash", "targets", "customTimeouts")}
    timeouts = spec.get("customTimeouts")
    trigger = alirestart.RestartTrigger(
        name,
        hash=spec["hash"],
        targets=spec["targets"],
        restart_on_create=options.get("restartOnCreate"),
        wait=options.get("wait"),
        timeout=options.get("timeout"),
        max_parallel=options.get("maxParallel"),
        canary=options.get("canary"),
        max_failures=options.get("maxFailures"),
        opts=pulumi.ResourceOptions(
            custom_timeouts=pulumi.CustomTimeouts(**timeouts) if timeouts else None
        ),
    )
    pulumi.export(name, {
        "change_order_ids": trigger.change_order_ids,
        "statuses": trigger.statuses,
        "owed": trigger.owed,
        "restarted_hash": trigger.restarted_hash,
        "progress": trigger.progress,
    })
