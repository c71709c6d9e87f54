"""``RestartTrigger``: the resource a Pulumi program declares (the program side).

It only shapes inputs: every check runs in the provider's ``check`` (``inputs.py``), so a
mistake is reported at ``pulumi preview`` with the field's path, whatever language of config
(stack YAML, Python literals, Outputs) it came from.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterator, Mapping, Sequence
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

from restart_trigger.inputs import RESTART_OUTPUTS
from restart_trigger.provider import RestartTriggerProvider
from restart_trigger.targets import (
    EdasApplication,
    EdasK8sApplication,
    SaeApplication,
    WebPlusEnvironment,
)
from restart_trigger.verify import Verify, as_input


class InputError(pulumi.RunError, ValueError):
    """A ``RestartTrigger`` input the program cannot send to the provider (a ``ValueError``;
    Pulumi prints it without a traceback). It names the input's path, e.g. ``targets[0].app_id``.
    """


def _unsendable(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """What of a plain (already known) input value Pulumi could not serialize, as (path,
    reason); Outputs and other awaitables are checked by the provider once known."""
    if isinstance(value, bool) or value is None or isinstance(value, pulumi.Output | Awaitable):
        return
    if isinstance(value, int):
        try:
            float(value)  # how Pulumi sends every number
        except OverflowError:
            digits = len(str(abs(value))) if abs(value) < 10**4000 else "thousands of"
            yield (
                path,
                f"is a {digits}-digit number, too large to send (Pulumi passes numbers as "
                "64-bit floats); use a number within the field's range",
            )
    elif isinstance(value, bytes | bytearray):
        yield (
            path,
            (
                f"must be a string, got {type(value).__name__}; decode it first "
                "(e.g. value.decode()) or hash it with hash_values"
            ),
        )
    elif isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = value[exc.start].encode("unicode_escape").decode("ascii")
            yield (
                path,
                (
                    f"is not valid Unicode text: a lone surrogate {bad} at position {exc.start} "
                    "(text decoded with errors='surrogateescape'?); pass the id as proper text"
                ),
            )
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _unsendable(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _unsendable(item, f"{path}[{i}]")


TargetInput = (
    EdasApplication | EdasK8sApplication | SaeApplication | WebPlusEnvironment | Mapping[str, Any]
)


def _secret_headers(verify: Any) -> Any:
    """``verify`` as sent to the engine: plain (``Verify`` turned into a mapping), each HTTP
    probe's header values marked secret, so that the engine keeps them encrypted in state and
    masks them in every diff and output (what the provider returns under the same input
    names is marked secret too). A ``verify`` given as one Output is marked secret whole."""
    verify = as_input(verify)
    if verify is None or verify is False:
        return verify
    if not isinstance(verify, Mapping):
        return pulumi.Output.secret(verify)
    http = verify.get("http")
    if not isinstance(http, list | tuple):
        return dict(verify) if http is None else {**verify, "http": pulumi.Output.secret(http)}
    probes = []
    for probe in http:
        probe = as_input(probe)
        headers = probe.get("headers") if isinstance(probe, Mapping) else None
        if isinstance(headers, Mapping):
            probe = {**probe, "headers": {k: pulumi.Output.secret(v) for k, v in headers.items()}}
        elif headers is not None:
            probe = {**probe, "headers": pulumi.Output.secret(headers)}
        elif not isinstance(probe, Mapping):
            probe = pulumi.Output.secret(probe)
        probes.append(probe)
    return {**verify, "http": probes}


def _with_secret_headers(target: Any) -> Any:
    if isinstance(target, Mapping) and target.get("verify") is not None:
        return {**target, "verify": _secret_headers(target["verify"])}
    return target


class RestartTrigger(dynamic.Resource, module="restart", name="RestartTrigger"):
    """Restarts SAE applications, EDAS applications (ECS or Kubernetes) and Web+ environments
    when ``hash`` changes.

    Args:
        resource_name: the Pulumi resource name.
        targets: what to restart, any mix of ``EdasApplication(app_id=..., ecc_ids=[...])``,
            ``EdasK8sApplication(app_id=..., timeout=...)``, ``SaeApplication(app_id=...,
            min_ready_instance_ratio=...)`` and ``WebPlusEnvironment(env_id=...,
            batch_size=...)``; ids may be Outputs (of a ``pulumi_alicloud`` resource, say).
        hash: any string that changes when the targets must restart, typically
            ``hash_paths("config/api")`` or ``hash_values({...})``.
        restart_on_create: restart when the trigger is first created (default False).
        wait: wait for every change order to finish, failing the update if one fails
            (default True); with False the update ends once the restarts are accepted.
        timeout: seconds the whole update may take, waits included (default 1800).
        max_parallel: how many targets restart at the same time (default: all), a rolling
            window: the next target starts when one finishes.
        canary: how many of the first targets (in the order given) restart, and must
            succeed, before any other starts (default 0; needs ``wait``).
        max_failures: once more targets than this have failed, no further target is started
            (default 0); the others stay owed to the next ``pulumi up``.
        region: Alibaba Cloud region (default: ``alicloud:region`` config, then the env).
        endpoint: one endpoint URL for every product, e.g. the local emulator's
            (default: resolved per region; ``alicloud:endpoints`` config also works).
        verify: what must pass after each target's change succeeded before the target counts
            as done (``restart_trigger.Verify(http=[HttpProbe(url=...)], cloud=True,
            within=...)``, or a mapping); a target's own ``verify`` replaces it. A target
            that does not pass fails the update like a failed restart (``canary``,
            ``max_failures``), and the next ``pulumi up`` verifies it again without
            restarting it. Header values are secrets. Needs ``wait``.

    Outputs: ``progress`` (per target key, e.g. ``"edas:<app_id>"``: the ``hash`` it last
    restarted for, its ``change_id``, ``status``, ``restarted_at`` and ``request_id``),
    ``owed`` (the targets a partly failed rollout still owes), and derived from progress:
    ``change_order_id`` (with one target), ``change_order_ids``, ``request_ids``,
    ``statuses`` (running, paused, succeeded, failed, unknown), ``restarted_at`` (UTC, ISO
    8601) and ``restarted_hash`` (of the latest restart). A target restarted for its hash
    whose verification has not passed keeps ``unverified_hash`` and ``unverified_reason`` in
    its ``progress`` entry (and stays in ``owed``). None is never an output value: ``""``,
    ``{}`` and ``[]`` mean "not yet".
    """

    hash: pulumi.Output[str]
    targets: pulumi.Output[list[dict[str, Any]]]
    change_order_id: pulumi.Output[str]
    change_order_ids: pulumi.Output[dict[str, str]]
    request_ids: pulumi.Output[dict[str, str]]
    statuses: pulumi.Output[dict[str, str]]
    restarted_at: pulumi.Output[str]
    restarted_hash: pulumi.Output[str]
    progress: pulumi.Output[dict[str, dict[str, str]]]
    owed: pulumi.Output[list[str]]

    def __init__(
        self,
        resource_name: str,
        targets: Sequence[TargetInput] | pulumi.Input[Any],
        hash: pulumi.Input[str],  # noqa: A002 - the public name of the input
        *,
        restart_on_create: pulumi.Input[bool] | None = None,
        wait: pulumi.Input[bool] | None = None,
        timeout: pulumi.Input[float] | None = None,
        max_parallel: pulumi.Input[int] | None = None,
        canary: pulumi.Input[int] | None = None,
        max_failures: pulumi.Input[int] | None = None,
        region: pulumi.Input[str] | None = None,
        endpoint: pulumi.Input[str] | None = None,
        verify: Verify | pulumi.Input[Mapping[str, Any]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        if isinstance(targets, list | tuple):
            targets = [_with_secret_headers(as_input(t)) for t in targets]
        props: dict[str, Any] = {
            "hash": hash,
            "targets": targets,
            "restart_on_create": restart_on_create,
            "wait": wait,
            "timeout": timeout,
            "max_parallel": max_parallel,
            "canary": canary,
            "max_failures": max_failures,
            "region": region,
            "endpoint": endpoint,
            "verify": _secret_headers(verify),
        }
        problems = list(_unsendable(props, ""))
        if problems:
            raise InputError(
                f"RestartTrigger {resource_name!r}: "
                + "; ".join(f"{path} {reason}" for path, reason in problems)
            )
        props.update({name: None for name in RESTART_OUTPUTS})
        super().__init__(RestartTriggerProvider(), resource_name, props, opts)
