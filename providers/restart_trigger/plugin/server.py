"""``pulumi-resource-alirestart``: the resource plugin's gRPC servicer, a thin engine adapter.

Each call translates the engine's request into the core's terms (``names``: camelCase to
snake_case; ``wire``: ``Struct`` to dict, secrets kept aside) and calls the functions the
dynamic provider calls: ``inputs.check_inputs``, ``plan.decide``, ``rollout.roll_out``,
``rollout.refreshed``. What this door adds, because the engine's protocol has it:

* ``Diff`` answers a **detailed diff**: ``hash`` and each target that restarts
  (``targets[i]``), and says why per target in a diagnostic line at preview;
* ``Create``/``Update`` honour the request's ``timeout`` (``customTimeouts``): the rollout's
  one deadline is the shorter of it and the trigger's ``timeout``;
* a partly failed rollout fails the call with the restarts that happened as the resource's
  state (``ErrorResourceInitFailed``, the supported way);
* ``Read`` refreshes, and with no state (``pulumi import``) builds a trigger from its id
  (``importing``);
* ``Cancel`` stops the rollout as an engine that went away does (``stopping.STOP``);
* secrets in inputs come back as secrets in state and outputs.

Preview calls no Alibaba Cloud API at all: ``Create``/``Update`` with ``preview`` set (the
engine sends them to every plugin that handshakes, whatever ``supportsPreview`` says) answer
from the plan alone, the restart outputs unknown.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

from restart_trigger import __version__
from restart_trigger.aliyun import CredentialsError, client_for_trigger
from restart_trigger.backoff import Deadline
from restart_trigger.engine_rpc import fail_with_outputs, log, log_sink
from restart_trigger.inputs import INPUTS, RESTART_OUTPUTS, check_inputs, inputs_of
from restart_trigger.journal import Journal
from restart_trigger.lines import Lines
from restart_trigger.plan import decide
from restart_trigger.plugin import config as provider_config
from restart_trigger.plugin import importing, names, wire
from restart_trigger.plugin.schema import schema_text
from restart_trigger.provider_server import trigger_name
from restart_trigger.rollout import (
    EARLIER_WHY,
    carried_over,
    outputs_of,
    refreshed,
    roll_out,
    settings_of,
    why_due,
)
from restart_trigger.stopping import STOP
from restart_trigger.targets import INPUTS_BY_KIND, KINDS, target_keys
from restart_trigger.validation import UNKNOWN, is_unknown

_NAMES = frozenset(INPUTS) | frozenset(RESTART_OUTPUTS)
# Each kind's input fields, as the program-side input classes declare them.
_FIELDS = frozenset(f.name for cls in INPUTS_BY_KIND.values() for f in dataclasses.fields(cls))


def _props(struct: Any) -> tuple[dict[str, Any], set[wire.Path]]:
    """A request's properties in the core's names, and which (core-named) paths were secret."""
    plain, secret = wire.unwrap(wire.from_struct(struct))
    return names.from_engine(plain) or {}, wire.renamed(secret, names.to_snake)


def _struct(props: Mapping[str, Any], secret: set[wire.Path]) -> Any:
    """The core's ``props`` as the engine's properties, ``secret`` paths marked."""
    return wire.to_struct(wire.wrap(names.to_engine(props), wire.renamed(secret, names.to_camel)))


def _words(text: str) -> str:
    return names.text_to_engine(text.replace("alicloud:", "alirestart:"), _NAMES | _FIELDS)


def _missing_kinds(news: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Targets without ``kind``: through the plugin, a target names its kind (the dynamic
    provider guesses from the id field for old inputs; a Go program that forgets ``Kind`` on
    an SAE application would restart an EDAS application of that id)."""
    targets = news.get("targets")
    if not isinstance(targets, list):
        return []
    return [
        (
            f"targets[{i}].kind",
            "is required: one of edas, edas-k8s, sae, webplus (the generated SDKs' target "
            "types set it; in Go set `Kind` by hand)",
        )
        for i, target in enumerate(targets)
        if isinstance(target, Mapping) and "kind" not in target
    ]


def _header_paths(props: Mapping[str, Any]) -> set[wire.Path]:
    """Where a ``verify`` holds a header value: kept secret, whether or not the program marked
    it (the SDKs mark only top-level secrets)."""
    found: set[wire.Path] = set()

    def probes(verify: Any, at: wire.Path) -> None:
        http = verify.get("http") if isinstance(verify, Mapping) else None
        for j, probe in enumerate(http if isinstance(http, list) else []):
            headers = probe.get("headers") if isinstance(probe, Mapping) else None
            if isinstance(headers, Mapping):
                found.update((*at, "http", j, "headers", name) for name in headers)

    probes(props.get("verify"), ("verify",))
    targets = props.get("targets")
    for i, target in enumerate(targets if isinstance(targets, list) else []):
        if isinstance(target, Mapping):
            probes(target.get("verify"), ("targets", i, "verify"))
    return found


def _id_field(target: Mapping[str, Any]) -> str:
    cls = KINDS.get(target.get("kind"))
    return cls.id_field if cls is not None else "kind"


def _to_be_known(props: Mapping[str, Any]) -> dict[str, Any]:
    """At preview, the outputs of a rollout that has not happened: the inputs, and every
    restart output unknown (the engine shows them as known after the update)."""
    return {**inputs_of(props), **{name: UNKNOWN for name in RESTART_OUTPUTS}}


def why(olds: Mapping[str, Any] | None, news: Mapping[str, Any], key: str) -> str:
    """What target ``key`` is due for in this update, in words for a diff line
    (``rollout.why_due``; a restart says so)."""
    if olds is None:
        return "restarts: a new trigger with restartOnCreate"
    words = why_due(olds, news, key).replace("restart_on_create", "restartOnCreate")
    return words if words in EARLIER_WHY else f"restarts: {words}"


class AliRestartProvider(provider_pb2_grpc.ResourceProviderServicer):
    """The servicer (see the module docstring). One per plugin process; the engine calls it
    from many threads at once, and it keeps nothing between calls but the configuration."""

    def __init__(
        self,
        engine_address: str | None = None,
        *,
        client_for: Callable[..., Any] = client_for_trigger,
    ) -> None:
        self.engine_address = engine_address
        self._stack_config: dict[str, Any] = {}
        self._client_for = client_for

    # -- the plugin ---------------------------------------------------------------------------
    def Handshake(self, request, context):
        self.engine_address = request.engine_address or self.engine_address
        return provider_pb2.ProviderHandshakeResponse(
            accept_secrets=True, accept_resources=False, accept_outputs=False
        )

    def GetPluginInfo(self, request, context):
        return plugin_pb2.PluginInfo(version=__version__)

    def GetSchema(self, request, context):
        return provider_pb2.GetSchemaResponse(schema=schema_text())

    def Cancel(self, request, context):
        STOP.request("the Pulumi engine cancelled the update")
        return empty_pb2.Empty()

    # -- provider configuration ---------------------------------------------------------------
    def CheckConfig(self, request, context):
        news, _ = wire.unwrap(wire.from_struct(request.news))
        failures = provider_config.check_config(news)
        for key in provider_config.unknown_keys(news):
            log(
                self.engine_address,
                request.urn,
                f"alirestart:{key} is not a setting of this provider (one of: "
                f"{', '.join(provider_config.KEYS)}); it is ignored",
                severity="WARNING",
            )
        inputs = wire.wrap(news, provider_config.secret_paths(news))
        return provider_pb2.CheckResponse(
            inputs=wire.to_struct(inputs),
            failures=[provider_pb2.CheckFailure(property=k, reason=r) for k, r in failures],
        )

    def DiffConfig(self, request, context):
        olds, _ = wire.unwrap(wire.from_struct(request.olds))
        news, _ = wire.unwrap(wire.from_struct(request.news))
        keys = set(provider_config.KEYS)
        changed = sorted(k for k in keys if olds.get(k) != news.get(k))
        # Never a replacement: new credentials or endpoints restart nothing, and replacing the
        # provider would replace every trigger it serves.
        return provider_pb2.DiffResponse(
            changes=(
                provider_pb2.DiffResponse.DIFF_SOME
                if changed
                else provider_pb2.DiffResponse.DIFF_NONE
            ),
            diffs=changed,
        )

    def Configure(self, request, context):
        if request.HasField("args"):
            config, _ = wire.unwrap(wire.from_struct(request.args))
        else:
            prefix = f"{provider_config.NAMESPACE}:"
            config = {
                k.removeprefix(prefix).removeprefix("config:"): v
                for k, v in request.variables.items()
            }
        self._stack_config = provider_config.stack_config_of(config)
        return provider_pb2.ConfigureResponse(
            acceptSecrets=True, supportsPreview=False, acceptResources=False
        )

    # -- the trigger ----------------------------------------------------------------------------
    def Check(self, request, context):
        news, secret = _props(request.news)
        inputs, failures = check_inputs(news)
        secret |= _header_paths(inputs)
        failures = _missing_kinds(news) + failures
        return provider_pb2.CheckResponse(
            inputs=_struct(inputs, secret),
            failures=[
                provider_pb2.CheckFailure(property=names.path_to_engine(path), reason=_words(r))
                for path, r in failures
            ],
        )

    def Diff(self, request, context):
        olds, _ = _props(request.olds)
        news, _ = _props(request.news)
        plan = decide(olds, news)
        response = provider_pb2.DiffResponse(
            changes=(
                provider_pb2.DiffResponse.DIFF_SOME
                if plan.changes
                else provider_pb2.DiffResponse.DIFF_NONE
            ),
            replaces=[names.to_camel(k) for k in plan.replaces],
            deleteBeforeReplace=False,
            diffs=[names.to_camel(k) for k in INPUTS if olds.get(k) != news.get(k)],
            hasDetailedDiff=True,
        )
        self._detail(response, olds, news, plan)
        if plan.due:
            self._say_why(request.urn, request.id, olds, news, plan.due)
        return response

    def _detail(self, response, olds, news, plan) -> None:
        kind = provider_pb2.PropertyDiff
        for name in INPUTS:
            if name == "targets" or olds.get(name) == news.get(name):
                continue
            replace = name in plan.replaces
            response.detailedDiff[names.to_camel(name)].CopyFrom(
                kind(
                    kind=kind.UPDATE_REPLACE if replace else kind.UPDATE,
                    inputDiff=True,
                )
            )
        old_targets = olds.get("targets") if isinstance(olds.get("targets"), list) else []
        new_targets = news.get("targets") if isinstance(news.get("targets"), list) else []
        keys = target_keys(new_targets, ordered=True) or []
        due = set(plan.due or ())
        for i, target in enumerate(new_targets):
            before = old_targets[i] if i < len(old_targets) else None
            key = keys[i] if i < len(keys) else None
            path = f"targets[{i}]"
            if before is None:
                change = kind.ADD
            elif before != target:
                change = kind.UPDATE
            elif key in due:
                # Unchanged but restarting: named by its id, which the CLI shows as the row.
                change, path = kind.UPDATE, f"{path}.{names.to_camel(_id_field(target))}"
            else:
                continue
            response.detailedDiff[path].CopyFrom(kind(kind=change, inputDiff=True))
        for i in range(len(new_targets), len(old_targets)):
            response.detailedDiff[f"targets[{i}]"].CopyFrom(kind(kind=kind.DELETE, inputDiff=True))

    def _say_why(self, urn: str, resource_id: str, olds, news, due) -> None:
        lines = Lines(trigger_name(urn, resource_id), log_sink(urn, self.engine_address))
        for key in due:
            lines.earlier(key, why(olds, news, key))

    def Create(self, request, context):
        props, secret = _props(request.properties)
        resource_id = "" if request.preview else f"restart-trigger-{uuid.uuid4().hex[:16]}"
        plan = decide(None, props)
        if not plan.restart:
            outs = outputs_of(props, {}, [], "")
        elif request.preview:
            outs = _to_be_known(props)
        else:
            outs = self._rollout(
                context, request.urn, resource_id, props, None, plan.due, request.timeout, secret
            )
        return provider_pb2.CreateResponse(id=resource_id, properties=_struct(outs, secret))

    def Update(self, request, context):
        olds, _ = _props(request.olds)
        news, secret = _props(request.news)
        plan = decide(olds, news)
        if not plan.restart:
            outs = carried_over(news, olds)
        elif request.preview:
            outs = _to_be_known(news)
        else:
            outs = self._rollout(
                context, request.urn, request.id, news, olds, plan.due, request.timeout, secret
            )
        return provider_pb2.UpdateResponse(properties=_struct(outs, secret))

    def Read(self, request, context):
        props, secret = _props(request.properties)
        try:
            if props:
                outs = refreshed(props, lambda deadline: self._client(props, deadline))
            else:  # `pulumi import`: the id names the targets
                outs = importing.imported(request.id, self._client)
        except (CredentialsError, ValueError) as exc:
            context.abort(grpc.StatusCode.UNKNOWN, _words(str(exc)))
        return provider_pb2.ReadResponse(
            id=request.id,
            properties=_struct(outs, secret),
            inputs=_struct(inputs_of(outs), secret),
        )

    def Delete(self, request, context):
        """Deleting a trigger restarts nothing and calls no API."""
        return empty_pb2.Empty()

    # -- restarting -----------------------------------------------------------------------------
    def _client(self, props: Mapping[str, Any], deadline: Deadline) -> Any:
        return self._client_for(
            self._stack_config,
            region=props.get("region"),
            endpoint=props.get("endpoint"),
            deadline=deadline,
        )

    def _rollout(
        self,
        context,
        urn: str,
        resource_id: str,
        props: dict[str, Any],
        olds: dict[str, Any] | None,
        due: tuple[str, ...] | None,
        timeout: float,
        secret: set[wire.Path],
    ) -> dict[str, Any]:
        """Restart the ``due`` targets; return the new outputs, or fail the call (keeping the
        restarts that happened in state) when some stay owed."""
        lines = Lines(trigger_name(urn, resource_id), log_sink(urn, self.engine_address))
        journal = Journal(urn, None if olds is None else resource_id) if urn else None
        own = settings_of(props).timeout
        seconds = own
        if timeout and timeout > 0 and not is_unknown(timeout):
            seconds = min(own, float(timeout))  # customTimeouts: the shorter one wins
        deadline = Deadline(seconds)
        try:
            with self._client(props, deadline) as client:
                result = roll_out(
                    client, props, olds, due, deadline=deadline, lines=lines, journal=journal
                )
        except CredentialsError as exc:
            context.abort(grpc.StatusCode.UNKNOWN, _words(str(exc)))
        if result.failure is None:
            return result.outputs
        failure = result.failure
        if seconds < own:
            failure += (
                f" (the deadline was the resource's customTimeouts, {seconds:g}s, shorter than "
                f"its `timeout` of {own:g}s)"
            )
        if not result.kept:
            # Nothing to record: the previous state is exactly what the next `up` needs.
            context.abort(grpc.StatusCode.UNKNOWN, _words(failure))
        fail_with_outputs(context, resource_id, _struct(result.outputs, secret), _words(failure))
        raise AssertionError("unreachable: abort_with_status raises")  # pragma: no cover
