"""The dynamic provider behind ``RestartTrigger``: the engine's callbacks, kept thin.

Lifecycle, as the engine drives it:

* ``check`` validates every input, naming the field and the fix (``inputs.check_inputs``);
* ``diff``, ``create`` and ``update`` ask ``plan.decide`` what the change means; ``create`` and
  ``update`` then restart through ``runner.run_restarts`` or carry the last restart's outputs
  over. A failed restart raises ``RestartFailed`` and leaves the old state (the old hash), so
  the next ``pulumi up`` owes the restart again;
* ``read`` (``pulumi refresh``) refreshes the status of the last change orders;
* ``delete`` calls nothing.

Preview only ever calls ``check`` and ``diff``: no Alibaba Cloud API at all, not even a read,
so previews need no credentials.

The engine pickles this object (by reference, with dill) into every trigger's state: it has
no fields when pickled. Credentials, region and endpoints are read in ``configure`` (in the
provider process, from the stack config) and at run time from the environment, and are never
written anywhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pulumi.dynamic as dynamic

from restart_trigger import provider_server
from restart_trigger.aliyun import CONFIG_KEYS, AliyunClient, NotFoundError, resolve_settings
from restart_trigger.aliyun.endpoints import PRODUCTS
from restart_trigger.backoff import Deadline
from restart_trigger.inputs import (
    DEFAULT_TIMEOUT,
    RESTART_OUTPUTS,
    check_inputs,
    check_stack_config,
    inputs_of,
)
from restart_trigger.plan import decide
from restart_trigger.runner import RestartFailed, failure_text, run_restarts
from restart_trigger.targets import RUNNING, UNKNOWN_STATE, Target, parse_targets


def _targets(props: Mapping[str, Any]) -> list[Target]:
    parsed = parse_targets(props.get("targets"))
    if parsed.failures.items:  # check already refused these; state from elsewhere is suspect
        path, reason = parsed.failures.items[0]
        raise ValueError(f"{path}: {reason}")
    return parsed.targets


def _no_restart_yet(props: Mapping[str, Any]) -> dict[str, Any]:
    outs = {**inputs_of(props), **{k: None for k in RESTART_OUTPUTS}}
    outs["change_order_ids"] = {}
    outs["statuses"] = {}
    return outs


class RestartTriggerProvider(dynamic.ResourceProvider):
    """The provider behind RestartTrigger (see the module docstring)."""

    serialize_as_secret_always = False  # nothing secret is captured, so state stays readable

    def configure(self, req: dynamic.ConfigureRequest) -> None:
        self._stack_config = {key: req.config.get(key) for key in CONFIG_KEYS}
        # Waiting triggers must not queue every other trigger behind 4 server threads.
        provider_server.widen()

    # -- engine callbacks --------------------------------------------------------------------
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.CheckResult:
        inputs, failures = check_inputs(news)
        failures += check_stack_config(getattr(self, "_stack_config", {}))
        return dynamic.CheckResult(
            inputs, [dynamic.CheckFailure(path, reason) for path, reason in failures]
        )

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        plan = decide(olds, news)
        return dynamic.DiffResult(
            changes=plan.changes, replaces=list(plan.replaces), delete_before_replace=False
        )

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        resource_id = f"restart-trigger-{uuid.uuid4().hex[:16]}"
        if decide(None, props).restart:
            outs = self._restart(props, previous={})
        else:
            outs = _no_restart_yet(props)
        return dynamic.CreateResult(id_=resource_id, outs=outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        if decide(olds, news).restart:
            return dynamic.UpdateResult(outs=self._restart(news, previous=olds))
        carried = {k: olds.get(k) for k in RESTART_OUTPUTS}
        return dynamic.UpdateResult(outs={**inputs_of(news), **carried})

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        change_ids: Mapping[str, str] = props.get("change_order_ids") or {}
        if not change_ids:
            return dynamic.ReadResult(id_=id_, outs=props)
        statuses = dict(props.get("statuses") or {})
        deadline = Deadline(float(props.get("timeout") or DEFAULT_TIMEOUT))
        with self._client(props, deadline) as client:
            for target in _targets(props):
                change_id = change_ids.get(target.key)
                if not change_id:
                    continue
                try:
                    statuses[target.key] = target.status(client, change_id).state
                except NotFoundError:
                    statuses[target.key] = UNKNOWN_STATE
        return dynamic.ReadResult(id_=id_, outs={**props, "statuses": statuses})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Deleting a trigger restarts nothing and calls no API."""

    # -- restarting ----------------------------------------------------------------------------
    def _client(self, props: Mapping[str, Any], deadline: Deadline) -> AliyunClient:
        settings = resolve_settings(getattr(self, "_stack_config", {}))
        endpoints = dict(settings.endpoints or {})
        if props.get("endpoint"):
            endpoints = {product: props["endpoint"] for product in PRODUCTS}
        return AliyunClient(
            settings.credentials,
            region=props.get("region") or settings.region,
            endpoints=endpoints or None,
            deadline=deadline,
        )

    def _restart(self, props: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
        targets = _targets(props)
        deadline = Deadline(float(props.get("timeout") or DEFAULT_TIMEOUT))
        started = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        with self._client(props, deadline) as client:
            outcomes = run_restarts(
                client,
                targets,
                known_change_ids=previous.get("change_order_ids") or {},
                wait=props.get("wait", True) is not False,
                deadline=deadline,
                max_parallel=int(props["max_parallel"]) if props.get("max_parallel") else None,
            )
        if any(o.failed for o in outcomes):
            raise RestartFailed(failure_text(outcomes))
        return {
            **inputs_of(props),
            "change_order_id": outcomes[0].change_id if len(outcomes) == 1 else None,
            "change_order_ids": {o.key: o.change_id for o in outcomes},
            "request_ids": {o.key: o.request_id for o in outcomes},
            "statuses": {o.key: o.status.state if o.status else RUNNING for o in outcomes},
            "restarted_at": started,
            "restarted_hash": props.get("hash"),
        }
