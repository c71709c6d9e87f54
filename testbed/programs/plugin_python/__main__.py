"""A Python program on the generated SDK: one RestartTrigger per entry of the stack config
``triggers`` (``{name: {hash, targets, ...}}``, the schema's names), its outputs exported.

``providers`` (``{name: {accessKey, secretKey, securityToken, region, endpoints}}``) declares
explicit providers; a trigger's ``provider`` names one (default: the default provider, which
reads ``alirestart:*``)."""

import pulumi
import pulumi_alirestart as alirestart

config = pulumi.Config()
providers = {
    name: alirestart.Provider(
        name,
        access_key=spec.get("accessKey"),
        secret_key=config.require_secret(f"{name}SecretKey") if spec.get("secretKey") else None,
        security_token=spec.get("securityToken"),
        region=spec.get("region"),
        endpoints=spec.get("endpoints"),
    )
    for name, spec in (config.get_object("providers") or {}).items()
}
for name, spec in (config.get_object("triggers") or {}).items():
    options = {k: v for k, v in spec.items() if k not in ("hash", "targets", "customTimeouts")}
    verify = spec.get("verify")
    if verify and spec.get("verifyAuthFrom"):  # each probe's Authorization from a secret
        auth = config.require_secret(spec["verifyAuthFrom"])
        verify = {
            **verify,
            "http": [{**p, "headers": {"Authorization": auth}} for p in verify["http"]],
        }
    provider = providers.get(spec.get("provider", ""))
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
        verify=verify,
        opts=pulumi.ResourceOptions(
            custom_timeouts=pulumi.CustomTimeouts(**timeouts) if timeouts else None,
            provider=provider,
        ),
    )
    pulumi.export(
        name,
        {
            "change_order_ids": trigger.change_order_ids,
            "statuses": trigger.statuses,
            "owed": trigger.owed,
            "restarted_hash": trigger.restarted_hash,
            "progress": trigger.progress,
        },
    )
