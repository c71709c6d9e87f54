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
from restart_trigger.journal import Journal, TargetJournal
from restart_trigger.plan import decide, owed_of, progress_of
from restart_trigger.progress import Progress
from restart_trigger.provider_server import PartialStateUnsupported, engine_sink, trigger_name
from restart_trigger.runner import (
    Outcome,
    RestartFailed,
    Rollout,
    Unknown,
    failure_text,
    run_restarts,
)
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


def _iso(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _epoch(text: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(text)).timestamp()
    except ValueError:
        return None


EARLIER_FIELDS = ("unsettled_", "unknown_")
"""The prefixes of what a target's progress record keeps of an earlier update's restart
still to resolve: ``unsettled_change_id``/``unsettled_hash`` (issued, not seen to finish) and
``unknown_hash``/``unknown_snapshot``/``unknown_sent_at``/``unknown_settle_window`` (sent,
outcome unknown)."""


def earlier_of(
    previous: Mapping[str, Mapping[str, Any]],
    new_hash: str,
    journal: Journal | None,
    keys: list[str],
) -> tuple[dict[str, str], dict[str, Unknown]]:
    """What earlier updates left to resolve for ``new_hash``, per target key: changes issued
    but not seen to finish (``unsettled``), and restarts whose outcome is unknown
    (``unknown``), from state and from the send journal (a provider killed before it
    answered the engine). A change id known for certain wins over an unknown outcome."""
    unsettled: dict[str, str] = {}
    unknown: dict[str, Unknown] = {}
    for key in keys:
        record = previous.get(key) or {}
        if record.get("unsettled_change_id") and record.get("unsettled_hash") == new_hash:
            unsettled[key] = str(record["unsettled_change_id"])
        elif record.get("unknown_hash") == new_hash and isinstance(
            record.get("unknown_snapshot"), list
        ):
            sent_at = _epoch(record.get("unknown_sent_at"))
            window = record.get("unknown_settle_window")
            if sent_at is not None:
                unknown[key] = Unknown(
                    frozenset(str(i) for i in record["unknown_snapshot"]),
                    sent_at,
                    float(window) if isinstance(window, (int, float)) else None,
                )
        sent = journal.earlier(key, new_hash) if journal is not None else None
        if sent is None:
            continue
        if sent.change_id:
            unsettled[key] = sent.change_id
            unknown.pop(key, None)
        elif key not in unsettled and key not in unknown and sent.sent_at > 0:
            unknown[key] = Unknown(sent.snapshot, sent.sent_at)
    return unsettled, unknown


def fold(
    previous: Mapping[str, Mapping[str, Any]],
    outcomes: list[Outcome],
    new_hash: str,
    now: str,
) -> dict[str, dict[str, Any]]:
    """The per-target progress after a rollout: a restart replaces the target's record; a
    target that did not restart keeps its last restart and what is still to resolve of this
    update's restart (a change not seen to finish, or an outcome unknown)."""
    progress = {k: dict(v) for k, v in previous.items()}
    for outcome in outcomes:
        if outcome.restarted:
            progress[outcome.key] = {
                "hash": new_hash,
                "change_id": outcome.change_id,
                "request_id": outcome.request_id or "",
                "status": outcome.status.state if outcome.status else RUNNING,
                "restarted_at": now,
            }
            continue
        if not outcome.started:
            continue  # nothing tried: what earlier updates left stays to resolve
        record = {
            k: v
            for k, v in progress.get(outcome.key, {}).items()
            if not k.startswith(EARLIER_FIELDS)
        }
        if outcome.unsettled:
            # Issued, never seen to finish (a timeout, unreadable status): the next `up`
            # waits for this change instead of restarting the target a second time.
            record.update(unsettled_change_id=outcome.change_id, unsettled_hash=new_hash)
        elif outcome.unknown is not None:
            # Sent, outcome unknown: the next `up` looks for it (in the change list, against
            # the snapshot taken before the send) before sending anything.
            lost = outcome.unknown
            record.update(
                unknown_hash=new_hash,
                unknown_snapshot=sorted(lost.snapshot),
                unknown_sent_at=_iso(lost.sent_at),
            )
            if lost.settle_window is not None:
                record["unknown_settle_window"] = lost.settle_window
        if record:
            progress[outcome.key] = record
        else:
            progress.pop(outcome.key, None)
    return progress


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
        # A CLI killed with its process group leaves this process running: stop with it.
        provider_server.watch_engine()

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
        journal = Journal(urn, None if olds is None else resource_id) if urn else None
        unsettled, unknown = earlier_of(previous, new_hash, journal, [t.key for t in todo])
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
                unsettled=unsettled,
                unknown=unknown,
                record_for=(
                    (lambda key: TargetJournal(journal, key, new_hash)) if journal else None
                ),
            )
        progress = fold(previous, outcomes, new_hash, _now())
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
