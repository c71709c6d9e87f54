"""The dynamic provider behind ``RestartTrigger``: the engine's callbacks, kept thin.

Lifecycle, as the engine drives it:

* ``check`` validates every input, naming the field and the fix (``inputs.check_inputs``);
* ``diff``, ``create`` and ``update`` ask ``plan.decide`` which targets are due a restart;
  ``create`` and ``update`` then roll those out through ``runner.run_rollout`` (progress
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
from typing import Any

import pulumi.dynamic as dynamic

from restart_trigger import provider_server
from restart_trigger.aliyun import CONFIG_KEYS, AliyunClient, client_for_trigger
from restart_trigger.backoff import Deadline
from restart_trigger.inputs import check_inputs, check_stack_config
from restart_trigger.journal import Journal
from restart_trigger.lines import Lines
from restart_trigger.plan import decide
from restart_trigger.provider_server import PartialStateUnsupported, engine_sink, trigger_name
from restart_trigger.rollout import (
    carried_over,
    earlier_words,
    outputs_of,
    refreshed,
    roll_out,
    settings_of,
)
from restart_trigger.runner import RestartFailed

PROVIDER_KEY = "__provider"  # where the engine keeps the pickled provider in every state


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
        earlier = earlier_words(olds, news, list(plan.due or ()))
        if earlier:
            # what the next `up` resolves before sending anything, said at preview
            call = provider_server.current_call()
            urn = call.urn if call else None
            lines = Lines(trigger_name(urn, _id), engine_sink(urn))
            for key, words in earlier.items():
                lines.earlier(key, words)
        return dynamic.DiffResult(
            changes=plan.changes, replaces=list(plan.replaces), delete_before_replace=False
        )

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        resource_id = f"restart-trigger-{uuid.uuid4().hex[:16]}"
        plan = decide(None, props)
        if plan.restart:
            outs = self._rollout(resource_id, props, None, plan.due)
        else:
            outs = outputs_of(props, {}, [], "")
        return dynamic.CreateResult(id_=resource_id, outs=outs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        plan = decide(olds, news)
        if plan.restart:
            return dynamic.UpdateResult(outs=self._rollout(id_, news, olds, plan.due))
        return dynamic.UpdateResult(outs=carried_over(news, olds))

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        outs = refreshed(props, lambda deadline: self._client(props, deadline))
        return dynamic.ReadResult(id_=id_, outs=outs)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Deleting a trigger restarts nothing and calls no API."""

    # -- restarting ----------------------------------------------------------------------------
    def _client(self, props: Mapping[str, Any], deadline: Deadline) -> AliyunClient:
        return client_for_trigger(
            getattr(self, "_stack_config", {}),
            region=props.get("region"),
            endpoint=props.get("endpoint"),
            deadline=deadline,
        )

    def _rollout(
        self,
        resource_id: str,
        props: Mapping[str, Any],
        olds: Mapping[str, Any] | None,
        due: tuple[str, ...] | None,
    ) -> dict[str, Any]:
        """Restart the ``due`` targets (None: every target); return the new outputs, or fail
        the call with them (the restarts that happened are kept) if some stay owed."""
        call = provider_server.current_call()  # the server's Create/Update, two frames up
        urn = call.urn if call else None
        lines = Lines(trigger_name(urn, resource_id), engine_sink(urn))
        journal = Journal(urn, None if olds is None else resource_id) if urn else None
        deadline = settings_of(props).deadline()
        with self._client(props, deadline) as client:
            result = roll_out(
                client, props, olds, due, deadline=deadline, lines=lines, journal=journal
            )
        if result.failure is None:
            return result.outputs
        if not result.kept:
            # Nothing to record: the previous state is exactly what the next `up` needs.
            raise RestartFailed(result.failure)
        if call is None:
            lines.warn("this provider host cannot keep the restarts that happened in state")
        else:
            try:
                call.fail_with_outputs(
                    resource_id,
                    {**result.outputs, PROVIDER_KEY: props.get(PROVIDER_KEY)},
                    result.failure,
                )
            except PartialStateUnsupported as exc:
                lines.warn(f"could not keep the restarts that happened in state ({exc})")
        raise RestartFailed(result.failure_without_state())
