"""The dynamic provider behind ``RestartTrigger``: the engine's callbacks, kept thin.

Lifecycle, as the engine drives it:

* ``check`` validates every input, naming the field and the fix (``inputs.check_inputs``);
* ``diff``, ``create`` and ``update`` ask ``plan.decide`` which targets are owed a restart;
  ``create`` and ``update`` then roll those out through ``runner.run_restarts`` (progress
  lines on the trigger's row while it waits) or carry the recorded progress over;
* a rollout that leaves some targets owed fails the update naming each, and the state keeps
  the restarts that happened (per target: the hash it restarted for, change id, status,
  time), so the next ``pulumi up`` restarts only the others. That needs the server to answer
  with partial state (``provider_server.current_call``); where it cannot, the update fails
  the old way, leaving the previous state (the next ``up`` restarts every target again), and
  says so;
* ``read`` (``pulumi refresh``) refreshes the status of the recorded change orders;
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
from restart_trigger.inputs import DEFAULT_TIMEOUT, check_inputs, check_stack_config, inputs_of
from restart_trigger.plan import decide, owed_of, progress_of
from restart_trigger.progress import Progress
from restart_trigger.provider_server import PartialStateUnsupported, engine_sink, trigger_name
from restart_trigger.runner import RestartFailed, Rollout, failure_text, run_restarts
from restart_trigger.targets import RUNNING, UNKNOWN_STATE, Target, parse_targets

PROVIDER_KEY = "__provider"  # where the engine keeps the pickled provider in every state


def _targets(props: Mapping[str, Any]) -> list[Target]:
    parsed = parse_targets(props.get("targets"))
    if parsed.failures.items:  # check already refused these; state from elsewhere is suspect
        path, reason = parsed.failures.items[0]
        raise ValueError(f"{path}: {reason}")
    return parsed.targets


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _outputs(
    props: Mapping[str, Any],
    progress: Mapping[str, Mapping[str, Any]],
    owed: list[str],
    restarted_hash: str,
) -> dict[str, Any]:
    """The trigger's outputs: its inputs, per-target ``progress`` of the targets it lists,
    what is still ``owed``, and the summary outputs derived from progress. No value is None
    (a null output reads as "[unknown]" in previews): "" and {} mean "not yet"."""
    keys = [t.key for t in _targets(props)]
    kept = {k: dict(progress[k]) for k in keys if k in progress}
    times = [str(p.get("restarted_at") or "") for p in kept.values()]
    ids = {k: str(p["change_id"]) for k, p in kept.items() if p.get("change_id")}
    return {
        **inputs_of(props),
        "progress": kept,
        "owed": [k for k in keys if k in set(owed)],
        "change_order_id": ids.get(keys[0], "") if len(keys) == 1 else "",
        "change_order_ids": ids,
        "request_ids": {k: str(p["request_id"]) for k, p in kept.items() if p.get("request_id")},
        "statuses": {k: str(p.get("status") or UNKNOWN_STATE) for k, p in kept.items()},
        "restarted_at": max(times, default=""),
        "restarted_hash": restarted_hash or "",
    }


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
        plan = decide(None, props)
        if plan.restart:
            outs = self._rollout(resource_id, props, None, plan.owed)
        else:
            outs = _outputs(props, {}, [], "")
        return dynamic.CreateResult(id_=resource_id, outs=outs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        plan = decide(olds, news)
        if plan.restart:
            return dynamic.UpdateResult(outs=self._rollout(id_, news, olds, plan.owed))
        restarted_hash = str(olds.get("restarted_hash") or "")
        return dynamic.UpdateResult(outs=_outputs(news, progress_of(olds), [], restarted_hash))

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        progress = progress_of(props)
        owed, restarted_hash = owed_of(props), str(props.get("restarted_hash") or "")
        if any(p.get("change_id") for p in progress.values()):
            deadline = Deadline(float(props.get("timeout") or DEFAULT_TIMEOUT))
            with self._client(props, deadline) as client:
                for target in _targets(props):
                    change_id = (progress.get(target.key) or {}).get("change_id")
                    if not change_id:
                        continue
                    try:
                        state = target.status(client, change_id).state
                    except NotFoundError:
                        state = UNKNOWN_STATE
                    progress[target.key]["status"] = state
        # Also brings state written by 0.2 and older to today's shape (no null outputs).
        return dynamic.ReadResult(id_=id_, outs=_outputs(props, progress, owed, restarted_hash))

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

    def _rollout(
        self,
        resource_id: str,
        props: Mapping[str, Any],
        olds: Mapping[str, Any] | None,
        owed: tuple[str, ...] | None,
    ) -> dict[str, Any]:
        """Restart the ``owed`` targets (None: every target); return the new outputs, or fail
        the call with them (the restarts that happened are kept) if some stay owed."""
        call = provider_server.current_call()  # the server's Create/Update, two frames up
        urn = call.urn if call else None
        lines = Progress(trigger_name(urn, resource_id), engine_sink(urn))
        targets = _targets(props)
        todo = [t for t in targets if owed is None or t.key in owed]
        previous = progress_of(olds)
        new_hash = str(props.get("hash"))
        deadline = Deadline(float(props.get("timeout") or DEFAULT_TIMEOUT))
        with self._client(props, deadline) as client:
            outcomes = run_restarts(
                client,
                todo,
                known_change_ids={
                    k: p["change_id"] for k, p in previous.items() if p.get("change_id")
                },
                wait=props.get("wait", True) is not False,
                deadline=deadline,
                rollout=Rollout(
                    max_parallel=int(props["max_parallel"]) if props.get("max_parallel") else None,
                    canary=int(props.get("canary") or 0),
                    max_failures=int(props.get("max_failures") or 0),
                ),
                progress=lines,
                unsettled={
                    k: p["unsettled_change_id"]
                    for k, p in previous.items()
                    if p.get("unsettled_change_id") and p.get("unsettled_hash") == new_hash
                },
            )
        now = _now()
        progress = dict(previous)
        for outcome in outcomes:
            if outcome.restarted:
                progress[outcome.key] = {
                    "hash": new_hash,
                    "change_id": outcome.change_id,
                    "request_id": outcome.request_id or "",
                    "status": outcome.status.state if outcome.status else RUNNING,
                    "restarted_at": now,
                }
            elif outcome.unsettled:
                # Issued, never seen to finish (a timeout, unreadable status): the next `up`
                # waits for this change instead of restarting the target a second time.
                record = dict(progress.get(outcome.key, {}))
                record.update(unsettled_change_id=outcome.change_id, unsettled_hash=new_hash)
                progress[outcome.key] = record
        still_owed = [o.key for o in outcomes if not o.restarted]
        restarted_any = any(o.restarted for o in outcomes)
        restarted_hash = (
            new_hash if restarted_any else str((olds or {}).get("restarted_hash") or "")
        )
        outs = _outputs(props, progress, still_owed, restarted_hash)
        if not still_owed:
            return outs
        kept = progress != previous  # restarts, or changes to wait for next time
        if call is not None and kept:
            try:
                call.fail_with_outputs(
                    resource_id,
                    {**outs, PROVIDER_KEY: props.get(PROVIDER_KEY)},
                    failure_text(outcomes),
                )
            except PartialStateUnsupported as exc:
                lines.warn(f"could not keep the restarts that happened in state ({exc})")
        elif kept:
            lines.warn("this provider host cannot keep the restarts that happened in state")
        if not kept:
            # Nothing to record: the previous state is exactly what the next `up` needs.
            raise RestartFailed(failure_text(outcomes))
        raise RestartFailed(failure_text(outcomes, progress_saved=False))
