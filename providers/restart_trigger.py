"""RestartTrigger: a Pulumi dynamic resource that restarts its targets when its hash changes.

Lifecycle, as the engine drives it:

* ``check`` validates every input and names the field and the fix (at ``pulumi preview``);
* ``diff`` decides: hash changed -> update (restart); target set or region changed -> replace
  (a new trigger, no restart unless ``restart_on_create``); options only -> update, no restart;
* ``create`` restarts only with ``restart_on_create=True``;
* ``update`` restarts every target (concurrently, up to ``max_parallel``), waits for the change
  orders when ``wait``, and fails naming each failed target; a failure leaves the old state, so
  the next ``pulumi up`` restarts again;
* ``read`` (``pulumi refresh``) refreshes the status of the last change orders;
* ``delete`` calls nothing.

Preview only ever calls ``check`` and ``diff``: no Alibaba Cloud API at all, not even a read,
so previews need no credentials.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

from providers import provider_server
from providers.aliyun import (
    AliyunClient,
    AliyunError,
    NotFoundError,
    RetryPolicy,
    resolve_settings,
    validate_endpoint,
)
from providers.aliyun.credentials import parse_endpoints
from providers.aliyun.endpoints import validate_region
from providers.targets import (
    FAILED,
    RUNNING,
    UNKNOWN_STATE,
    ChangeStatus,
    EdasApplication,
    Failures,
    WebPlusEnvironment,
    is_unknown,
    parse_targets,
    show,
    target_keys,
)

# Stack config keys the provider reads (same names as the pulumi-alicloud provider).
CONFIG_KEYS = (
    "alicloud:accessKey",
    "alicloud:secretKey",
    "alicloud:securityToken",
    "alicloud:region",
    "alicloud:profile",
    "alicloud:endpoints",
)

DEFAULT_TIMEOUT = 1800
MAX_TIMEOUT = 24 * 3600
# Status polling: first look soon (restarts of small apps are quick), then back off.
POLL_FIRST, POLL_FACTOR, POLL_MAX = 0.5, 1.5, 10.0
# More patience than the client's default (5 attempts): throttling and 5xx mean "not now", and
# giving up fails the whole trigger, so its next `up` would restart every target again.
RESTART_RETRY = RetryPolicy(max_attempts=10, max_delay=10.0)

# Inputs that tune how a restart runs; changing only these never restarts anything.
OPTIONS = ("restart_on_create", "wait", "timeout", "max_parallel", "region", "endpoint")
INPUTS = ("hash", "targets", *OPTIONS)
# Outputs that describe the last restart, carried over when an update does not restart.
RESTART_OUTPUTS = (
    "change_order_id",
    "change_order_ids",
    "request_ids",
    "statuses",
    "restarted_at",
    "restarted_hash",
)


class RestartFailed(Exception):
    """One or more targets did not restart; the message names each one and why."""


@dataclass
class Outcome:
    """What happened to one target during a restart."""

    key: str
    change_id: str | None = None
    request_id: str | None = None
    status: ChangeStatus | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None or (self.status is not None and self.status.state == FAILED)


def _check_inputs(news: Mapping[str, Any]) -> tuple[dict[str, Any], list[dynamic.CheckFailure]]:
    failures = Failures()
    inputs: dict[str, Any] = {k: news.get(k) for k in INPUTS}

    h = news.get("hash")
    if not is_unknown(h) and (not isinstance(h, str) or not h.strip()):
        failures.add(
            "hash",
            "must be a non-empty string, e.g. hash=hash_paths('config/api') or hash_values({...})",
        )

    parsed = parse_targets(news.get("targets"))
    inputs["targets"] = parsed.normalized
    failures.items.extend(parsed.failures.items)

    for name, default in (("restart_on_create", False), ("wait", True)):
        value = news.get(name)
        if value is None:
            inputs[name] = default
        elif not is_unknown(value) and not isinstance(value, bool):
            failures.add(name, f"must be true or false, got {show(value)}")

    timeout = news.get("timeout")
    if timeout is None:
        inputs["timeout"] = DEFAULT_TIMEOUT
    elif not is_unknown(timeout):
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            failures.add("timeout", f"must be a number of seconds, got {show(timeout)}")
        elif not 0 < timeout <= MAX_TIMEOUT:
            failures.add(
                "timeout",
                f"must be more than 0 and at most {MAX_TIMEOUT} seconds, got {show(timeout)}",
            )

    max_parallel = news.get("max_parallel")
    if max_parallel is not None and not is_unknown(max_parallel):
        if (
            isinstance(max_parallel, bool)
            or not isinstance(max_parallel, int | float)
            or max_parallel != int(max_parallel)
            or max_parallel < 1
        ):
            failures.add(
                "max_parallel",
                f"must be a whole number of at least 1 (or left out for all at once), "
                f"got {show(max_parallel)}",
            )

    region = news.get("region")
    if region is not None and not is_unknown(region):
        try:
            validate_region(region)
        except (TypeError, ValueError):
            failures.add(
                "region",
                f"{show(region)} is not a valid Alibaba Cloud region id (lowercase words joined "
                "by '-', e.g. 'cn-hangzhou'); fix this trigger's region or leave it out to use "
                "alicloud:region",
            )

    endpoint = news.get("endpoint")
    if endpoint is not None and not is_unknown(endpoint):
        try:
            inputs["endpoint"] = validate_endpoint(endpoint, field="endpoint")
        except (TypeError, ValueError) as exc:
            failures.add("endpoint", str(exc).removeprefix("endpoint: "))

    return inputs, [dynamic.CheckFailure(path, reason) for path, reason in failures.items]


def _check_stack_config(config: Mapping[str, Any]) -> list[dynamic.CheckFailure]:
    """The alicloud:* settings that can be judged without credentials, so that a typo there
    fails the preview instead of the first restart. Missing credentials are deliberately not
    reported: previews run without secrets (GitOps), and the deploy job may bring them."""
    failures = []
    region = config.get("alicloud:region")
    if region:
        try:
            validate_region(region)
        except ValueError as exc:
            failures.append(dynamic.CheckFailure("alicloud:region", str(exc)))
    try:
        parse_endpoints(config.get("alicloud:endpoints"))
    except ValueError as exc:
        failures.append(dynamic.CheckFailure("alicloud:endpoints", str(exc)))
    return failures


def _targets(props: Mapping[str, Any]) -> list[EdasApplication | WebPlusEnvironment]:
    parsed = parse_targets(props.get("targets"))
    if parsed.failures.items:  # check already refused these; state from elsewhere is suspect
        path, reason = parsed.failures.items[0]
        raise ValueError(f"{path}: {reason}")
    return parsed.targets


class RestartTriggerProvider(dynamic.ResourceProvider):
    """The provider behind RestartTrigger. Holds no state when pickled: credentials, region
    and endpoints are read in ``configure`` (in the provider process) from the stack config
    and the environment, and never written anywhere."""

    serialize_as_secret_always = False  # nothing secret is captured, so state stays readable

    def configure(self, req: dynamic.ConfigureRequest) -> None:
        self._stack_config = {key: req.config.get(key) for key in CONFIG_KEYS}
        # Waiting triggers must not queue every other trigger behind 4 server threads.
        provider_server.widen()

    # -- engine callbacks --------------------------------------------------------------------
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.CheckResult:
        inputs, failures = _check_inputs(news)
        failures += _check_stack_config(getattr(self, "_stack_config", {}))
        return dynamic.CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        changed = [k for k in INPUTS if olds.get(k) != news.get(k)]
        if not changed:
            return dynamic.DiffResult(changes=False)
        replaces = []
        if "hash" not in changed:
            old_keys, new_keys = target_keys(olds.get("targets")), target_keys(news.get("targets"))
            if old_keys is not None and new_keys is not None and old_keys != new_keys:
                replaces.append("targets")
            if "region" in changed:
                replaces.append("region")
        return dynamic.DiffResult(changes=True, replaces=replaces, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        resource_id = f"restart-trigger-{uuid.uuid4().hex[:16]}"
        if props.get("restart_on_create"):
            outs = self._restart(props, previous={})
        else:
            outs = {**_inputs_of(props), **{k: None for k in RESTART_OUTPUTS}}
            outs["change_order_ids"] = {}
            outs["statuses"] = {}
        return dynamic.CreateResult(id_=resource_id, outs=outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        if olds.get("hash") != news.get("hash"):
            return dynamic.UpdateResult(outs=self._restart(news, previous=olds))
        carried = {k: olds.get(k) for k in RESTART_OUTPUTS}
        return dynamic.UpdateResult(outs={**_inputs_of(news), **carried})

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        change_ids: Mapping[str, str] = props.get("change_order_ids") or {}
        if not change_ids:
            return dynamic.ReadResult(id_=id_, outs=props)
        statuses = dict(props.get("statuses") or {})
        with self._client(props) as client:
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
    def _client(self, props: Mapping[str, Any]) -> AliyunClient:
        settings = resolve_settings(getattr(self, "_stack_config", {}))
        endpoints = dict(settings.endpoints or {})
        if props.get("endpoint"):
            endpoints = {"edas": props["endpoint"], "webplus": props["endpoint"]}
        return AliyunClient(
            settings.credentials,
            region=props.get("region") or settings.region,
            endpoints=endpoints or None,
            retry=RESTART_RETRY,
        )

    def _restart(self, props: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
        targets = _targets(props)
        timeout = float(props.get("timeout") or DEFAULT_TIMEOUT)
        deadline = time.monotonic() + timeout
        wait = props.get("wait", True) is not False
        known = previous.get("change_order_ids") or {}
        workers = min(int(props.get("max_parallel") or len(targets)), len(targets))
        started = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

        with (
            self._client(props) as client,
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="restart") as pool,
        ):
            outcomes = list(
                pool.map(
                    lambda t: _restart_one(client, t, known.get(t.key), wait, deadline, timeout),
                    targets,
                )
            )

        failed = [o for o in outcomes if o.failed]
        if failed:
            ok = [o for o in outcomes if not o.failed]
            lines = [f"{len(failed)} of {len(outcomes)} target(s) did not restart:"]
            lines += [f"  - {_describe_failure(o)}" for o in failed]
            if ok:
                lines.append("  restarted: " + ", ".join(f"{o.key} ({o.change_id})" for o in ok))
            lines.append(
                "The trigger keeps its previous hash, so the next `pulumi up` restarts again."
            )
            raise RestartFailed("\n".join(lines))

        ids = {o.key: o.change_id for o in outcomes}
        return {
            **_inputs_of(props),
            "change_order_id": outcomes[0].change_id if len(outcomes) == 1 else None,
            "change_order_ids": ids,
            "request_ids": {o.key: o.request_id for o in outcomes},
            "statuses": {o.key: o.status.state if o.status else RUNNING for o in outcomes},
            "restarted_at": started,
            "restarted_hash": props.get("hash"),
        }


def _inputs_of(props: Mapping[str, Any]) -> dict[str, Any]:
    return {k: props.get(k) for k in INPUTS}


def _restart_one(
    client: AliyunClient,
    target: EdasApplication | WebPlusEnvironment,
    previous_change_id: str | None,
    wait: bool,
    deadline: float,
    timeout: float,
) -> Outcome:
    outcome = Outcome(target.key)
    try:
        result = target.restart(
            client,
            known_change_ids=[previous_change_id] if previous_change_id else [],
            deadline=deadline,
        )
    except (AliyunError, ValueError) as exc:
        outcome.error = f"restart refused: {exc}"
        return outcome
    outcome.change_id, outcome.request_id = result.change_id, result.request_id
    if not wait:
        return outcome
    delay = POLL_FIRST
    while True:
        try:
            outcome.status = target.status(client, result.change_id)
        except AliyunError as exc:
            if time.monotonic() + delay > deadline:
                outcome.error = f"could not read the status of change {result.change_id}: {exc}"
                return outcome
        else:
            if outcome.status.finished:
                return outcome
        if time.monotonic() + delay > deadline:
            last = outcome.status.detail if outcome.status else "no status read"
            outcome.error = (
                f"timed out after {timeout:g}s waiting for change {result.change_id} "
                f"(last status: {last}); raise `timeout` or set wait=False"
            )
            return outcome
        time.sleep(delay)
        delay = min(delay * POLL_FACTOR, POLL_MAX)


def _describe_failure(outcome: Outcome) -> str:
    if outcome.error:
        where = f" (change {outcome.change_id})" if outcome.change_id else ""
        return f"{outcome.key}{where}: {outcome.error}"
    status = outcome.status
    assert status is not None
    text = f"{outcome.key}: change {outcome.change_id} failed, {status.detail}"
    return text + (f": {status.message}" if status.message else "")


class RestartTrigger(dynamic.Resource, module="restart", name="RestartTrigger"):
    """Restarts EDAS applications and Web+ environments when ``hash`` changes.

    Args:
        resource_name: the Pulumi resource name.
        targets: what to restart: ``EdasApplication(app_id=..., ecc_ids=[...])`` and/or
            ``WebPlusEnvironment(env_id=..., batch_size=...)``; ids may be Outputs.
        hash: any string that changes when the targets must restart, typically
            ``hash_paths("config/api")`` or ``hash_values({...})``.
        restart_on_create: restart when the trigger is first created (default False).
        wait: wait for every change order to finish, failing the update if one fails
            (default True); with False the update ends once the restarts are accepted.
        timeout: seconds the whole update may take, waits included (default 1800).
        max_parallel: how many targets restart at the same time (default: all).
        region: Alibaba Cloud region (default: ``alicloud:region`` config, then the env).
        endpoint: one endpoint URL for both products, e.g. the local emulator's
            (default: resolved per region; ``alicloud:endpoints`` config also works).

    Outputs: ``change_order_id`` (with one target), ``change_order_ids`` (``{"edas:<app_id>" |
    "webplus:<env_id>": id}``), ``request_ids``, ``statuses`` (running, paused, succeeded,
    failed, unknown), ``restarted_at`` (UTC, ISO 8601) and ``restarted_hash``.
    """

    hash: pulumi.Output[str]
    targets: pulumi.Output[list[dict[str, Any]]]
    change_order_id: pulumi.Output[str | None]
    change_order_ids: pulumi.Output[dict[str, str]]
    request_ids: pulumi.Output[dict[str, str]]
    statuses: pulumi.Output[dict[str, str]]
    restarted_at: pulumi.Output[str | None]
    restarted_hash: pulumi.Output[str | None]

    def __init__(
        self,
        resource_name: str,
        targets: Sequence[EdasApplication | WebPlusEnvironment | Mapping[str, Any]]
        | pulumi.Input[Any],
        hash: pulumi.Input[str],  # noqa: A002 - the public name of the input
        *,
        restart_on_create: pulumi.Input[bool] | None = None,
        wait: pulumi.Input[bool] | None = None,
        timeout: pulumi.Input[float] | None = None,
        max_parallel: pulumi.Input[int] | None = None,
        region: pulumi.Input[str] | None = None,
        endpoint: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        if isinstance(targets, list | tuple):
            targets = [t.to_input() if hasattr(t, "to_input") else t for t in targets]
        props: dict[str, Any] = {
            "hash": hash,
            "targets": targets,
            "restart_on_create": restart_on_create,
            "wait": wait,
            "timeout": timeout,
            "max_parallel": max_parallel,
            "region": region,
            "endpoint": endpoint,
        }
        props.update({name: None for name in RESTART_OUTPUTS})
        super().__init__(RestartTriggerProvider(), resource_name, props, opts)
