"""Web+ environments: restarted with ``RestartAppEnv``, waited for with ``DescribeChange``
(Web+ 2019-03-20). Its fields and checks, operations, busy rule, how its changes are found
after a lost answer (``WEBPLUS_CHANGES``) and how a change reads: all here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from restart_trigger.aliyun import AliyunClient, BusinessError, RestartResult
from restart_trigger.aliyun.client import Operation
from restart_trigger.aliyun.params import (
    clean_str,
    optional_int,
    require_id,
    section,
)
from restart_trigger.aliyun.recovery import Reader
from restart_trigger.backoff import Deadline
from restart_trigger.targets.base import (
    FAILED,
    PAUSED,
    RUNNING,
    SUCCEEDED,
    ChangeStatus,
    InputSpec,
    InstancesView,
    Target,
    int_or_none,
)
from restart_trigger.validation import (
    KNOWN_AFTER_APPLY,
    Failures,
    as_int,
    check_bool,
    check_id,
    check_int,
    escaped,
    is_unknown,
    shown,
)

if TYPE_CHECKING:
    import pulumi

WEBPLUS_VERSION = "2019-03-20"
RESTART_APP_ENV = Operation(
    "webplus", "RestartAppEnv", "POST", "/pop/v1/wam/appEnv/restart", WEBPLUS_VERSION
)
DESCRIBE_CHANGE = Operation(
    "webplus", "DescribeChange", "GET", "/pop/v1/wam/changeInfo", WEBPLUS_VERSION
)
DESCRIBE_APP_ENV_STATUS = Operation(
    "webplus", "DescribeAppEnvStatus", "GET", "/pop/v1/wam/appEnv/status", WEBPLUS_VERSION
)
"""Read by Web+ restarts: the snapshot before each send and the looks after a lost answer;
also the cloud's view of an environment's instances (``verify: {cloud: true}``):
``EnvStatus.EnvStatus``, ``ApplyingChange`` and ``InstanceAppStatus{HealthyInstances,
StoppedInstances,UnhealthyInstances,UnknownInstances}`` (alibabacloud-webplus20190320
``DescribeAppEnvStatusResponseBodyEnvStatus``; docs ``DescribeAppEnvStatus.md``)."""


def webplus_latest_change(env_status: Mapping[str, Any]) -> str | None:
    """``EnvStatus.LatestChangeId`` of a ``DescribeAppEnvStatus`` body, or None."""
    found = env_status.get("EnvStatus")
    return clean_str(found.get("LatestChangeId")) if isinstance(found, Mapping) else None


def webplus_candidates(
    env_status: Mapping[str, Any],
    describe_change: Any,
    before: frozenset[str],
    known: frozenset[str],
) -> list[str]:
    """The environment's latest change if it may be our restart (new since ``before``, not
    known, ``ActionName`` RestartApp or absent), else nothing.

    ``describe_change(change_id)`` returns the ``DescribeChange`` body (one attempt); it is
    only called for a new latest change.
    """
    latest = webplus_latest_change(env_status)
    if latest is None or latest in before or latest in known:
        return []
    data = describe_change(latest)
    change = data.get("Change") if isinstance(data.get("Change"), Mapping) else {}
    action = clean_str(change.get("ActionName"))
    if action is not None and action.lower() != "restartapp":
        return []
    return [latest]


@dataclass(frozen=True)
class WebPlusChanges:
    """The ``ChangeList`` of a Web+ environment: its ``DescribeAppEnvStatus`` latest change
    (and ``DescribeChange`` of a new one)."""

    restart_action: str = "RestartAppEnv"

    def label(self, ident: str) -> str:
        return f"Web+ environment {ident}"

    def where_to_look(self, ident: str) -> str:
        return f"the changes of {self.label(ident)} (Web+ console, or DescribeAppEnvStatus)"

    def snapshot(self, read: Reader, ident: str) -> frozenset[str]:
        latest = webplus_latest_change(read(DESCRIBE_APP_ENV_STATUS, {"EnvId": ident}))
        return frozenset({latest} if latest else ())

    def candidates(
        self, read: Reader, ident: str, before: frozenset[str], known: frozenset[str]
    ) -> list[str]:
        status = read(DESCRIBE_APP_ENV_STATUS, {"EnvId": ident})
        return webplus_candidates(
            status,
            lambda change_id: read(DESCRIBE_CHANGE, {"EnvId": ident, "ChangeId": change_id}),
            before,
            known,
        )


WEBPLUS_CHANGES = WebPlusChanges()

BATCH_OPTIONS = ("batch_size", "batch_percent", "batch_interval", "pause_between_batches")


@dataclass(frozen=True)
class WebPlusEnvironment(InputSpec):
    """A Web+ environment, restarted with ``RestartAppEnv``.

    Args:
        env_id: the environment id (``we-...``); may be an Output.
        batch_size: instances restarted per batch (default: the service's choice).
        batch_percent: percentage of instances per batch, 1-100; instead of batch_size.
        batch_interval: wait between batches, as the API's BatchInterval.
        pause_between_batches: pause after each batch until the change is resumed.
        verify: this target's own ``verify`` (a ``restart_trigger.Verify`` or a mapping),
            instead of the trigger's; ``False``: none for this target.
    """

    kind: ClassVar[str] = "webplus"

    env_id: pulumi.Input[str]
    batch_size: pulumi.Input[int] | None = None
    batch_percent: pulumi.Input[int] | None = None
    batch_interval: pulumi.Input[int] | None = None
    pause_between_batches: pulumi.Input[bool] | None = None
    verify: Any = None


@dataclass(frozen=True)
class WebPlusTarget(Target):
    """The provider's view of a :class:`WebPlusEnvironment`: checked, plain values."""

    env_id: str
    batch_size: int | None = None
    batch_percent: int | None = None
    batch_interval: int | None = None
    pause_between_batches: bool | None = None

    kind: ClassVar[str] = "webplus"
    id_field: ClassVar[str] = "env_id"
    fields: ClassVar[frozenset[str]] = frozenset({"kind", "env_id", *BATCH_OPTIONS})
    title: ClassVar[str] = "Web+ env"
    restart_action: ClassVar[str] = "RestartAppEnv"
    changes: ClassVar[WebPlusChanges] = WEBPLUS_CHANGES
    instances_action: ClassVar[str] = "DescribeAppEnvStatus"

    @classmethod
    def validate(cls, raw: Mapping[str, Any], path: str, failures: Failures) -> None:
        check_id(raw.get("env_id"), f"{path}.env_id", "Web+ environment id", failures)
        check_int(raw.get("batch_size"), f"{path}.batch_size", failures, low=1)
        check_int(raw.get("batch_percent"), f"{path}.batch_percent", failures, low=1, high=100)
        check_int(raw.get("batch_interval"), f"{path}.batch_interval", failures, low=0)
        check_bool(raw.get("pause_between_batches"), f"{path}.pause_between_batches", failures)
        if raw.get("batch_size") is not None and raw.get("batch_percent") is not None:
            failures.add(
                f"{path}.batch_percent",
                "set either batch_size (instances per batch) or batch_percent, not both",
            )

    @classmethod
    def from_input(cls, raw: Mapping[str, Any]) -> WebPlusTarget:
        return cls(
            env_id=raw["env_id"],
            batch_size=as_int(raw.get("batch_size")),
            batch_percent=as_int(raw.get("batch_percent")),
            batch_interval=as_int(raw.get("batch_interval")),
            pause_between_batches=raw.get("pause_between_batches"),
        )

    @classmethod
    def strategy(cls, raw: Mapping[str, Any]) -> str:
        size, percent = raw.get("batch_size"), raw.get("batch_percent")
        if size is not None:
            parts = [f"batches of {shown(size)}"]
        elif percent is not None:
            parts = [f"{shown(percent)}% per batch"]
        else:
            parts = ["default batches"]
        if raw.get("batch_interval") is not None:
            parts.append(f"batch interval {shown(raw['batch_interval'])}")
        pause = raw.get("pause_between_batches")
        if pause is True:
            parts.append("pause between batches")
        elif is_unknown(pause):
            parts.append(f"pause between batches {KNOWN_AFTER_APPLY}")
        return ", ".join(parts)

    def call_restart_api(self, client: AliyunClient, known_change_ids: list[str]) -> RestartResult:
        return restart_app_env(
            client,
            self.env_id,
            batch_size=self.batch_size,
            batch_percent=self.batch_percent,
            batch_interval=self.batch_interval,
            pause_between_batches=self.pause_between_batches,
            known_change_ids=known_change_ids,
        )

    def is_busy(self, client: AliyunClient, refusal: BusinessError) -> bool:
        return refusal.code == "EnvOnChanging"

    def status(self, client: AliyunClient, change_id: str) -> ChangeStatus:
        return decode_change(describe_change(client, self.env_id, change_id))

    def instances(self, client: AliyunClient, deadline: Deadline) -> InstancesView:
        return env_instances_healthy(describe_app_env_status(client, self.env_id, deadline))


def restart_app_env(
    client: AliyunClient,
    env_id: str,
    batch_size: int | None = None,
    batch_percent: int | None = None,
    batch_interval: int | None = None,
    pause_between_batches: bool | None = None,
    *,
    known_change_ids: Iterable[str] | str | None = (),
) -> RestartResult:
    """Restart a Web+ environment; optional phased-restart settings go in the form body.

    ``pause_between_batches`` is sent as ``True``/``False``, as the generated SDK sends a
    bool form field (``str(bool)``). Parameters left ``None`` are not sent. Each send is
    preceded by one ``DescribeAppEnvStatus(EnvId)`` (the snapshot; see ``recovery``).
    Returns ``EnvChange.ChangeId``; raises as ``edas.restart_application``.
    """
    env_id = require_id("env_id", env_id)
    if pause_between_batches is not None and not isinstance(pause_between_batches, bool):
        raise ValueError(f"pause_between_batches must be a bool, got {pause_between_batches!r}")
    form = {
        "EnvId": env_id,
        "BatchSize": optional_int("batch_size", batch_size, 1),
        "BatchPercent": optional_int("batch_percent", batch_percent, 1, 100),
        "BatchInterval": optional_int("batch_interval", batch_interval, 0),
        "PauseBetweenBatches": (
            None if pause_between_batches is None else str(pause_between_batches)
        ),
    }
    return client.request_restart(
        RESTART_APP_ENV,
        env_id,
        WEBPLUS_CHANGES,
        form=form,
        extract=_env_change_id,
        known_change_ids=known_change_ids,
    )


def _env_change_id(data: Mapping[str, Any]) -> Any:
    change = data.get("EnvChange")
    return change.get("ChangeId") if isinstance(change, Mapping) else None


def describe_change(client: AliyunClient, env_id: str, change_id: str) -> dict:
    """Return ``Change`` of a Web+ change."""
    query = {
        "EnvId": require_id("env_id", env_id),
        "ChangeId": require_id("change_id", change_id),
    }
    return section(client.read(DESCRIBE_CHANGE, query), "Change", DESCRIBE_CHANGE)


def describe_app_env_status(
    client: AliyunClient, env_id: str, deadline: Deadline | None = None
) -> dict:
    """Return ``EnvStatus`` of a Web+ environment (``DescribeAppEnvStatus``)."""
    query = {"EnvId": require_id("env_id", env_id)}
    data = client.read(DESCRIBE_APP_ENV_STATUS, query, deadline)
    return section(data, "EnvStatus", DESCRIBE_APP_ENV_STATUS)


def env_instances_healthy(env_status: Mapping[str, Any]) -> InstancesView:
    """Read ``EnvStatus`` of ``DescribeAppEnvStatus``: ready when the environment is
    ``RUNNING`` with no change applying, has healthy instances and none stopped, unhealthy
    or unknown."""
    fields = "Web+ DescribeAppEnvStatus EnvStatus, InstanceAppStatus"
    status = clean_str(env_status.get("EnvStatus")) or "?"
    counts = env_status.get("InstanceAppStatus")
    counts = counts if isinstance(counts, Mapping) else {}
    healthy = int_or_none(counts.get("HealthyInstances"))
    others = {
        name: int_or_none(counts.get(f"{name}Instances")) or 0
        for name in ("Stopped", "Unhealthy", "Unknown")
    }
    if healthy is None:
        return InstancesView(False, f"no instance counts in the answer ({fields})")
    total = healthy + sum(others.values())
    words = ", ".join(f"{n} {name.lower()}" for name, n in others.items() if n)
    detail = f"environment {escaped(status)[:40]}, {healthy} of {total} instance(s) healthy"
    detail += f", {words}" if words else ""
    applying = _flag(env_status, "ApplyingChange")
    if applying:
        detail += ", a change is applying"
    ready = status == "RUNNING" and not applying and healthy >= 1 and not any(others.values())
    return InstancesView(ready, f"{detail} ({fields})")


def _flag(change: Mapping[str, Any], *names: str) -> bool:
    for name in names:
        value = change.get(name)
        if isinstance(value, str):
            value = value.strip().lower() == "true"
        if value:
            return True
    return False


def decode_change(change: Mapping[str, Any]) -> ChangeStatus:
    """Read the ``Change`` of ``DescribeChange``: flags, there is no single status enum."""
    finished = _flag(change, "ChangeFinished")
    succeeded = _flag(change, "ChangeSucceed", "ChangeSucceeded")
    aborted = _flag(change, "ChangeAborted")
    timed_out = _flag(change, "ChangeTimedout")
    paused = _flag(change, "ChangePaused")
    message = str(change.get("ChangeMessage") or "").strip()
    if aborted:
        return ChangeStatus(FAILED, "Web+ change aborted", message)
    if timed_out:
        return ChangeStatus(FAILED, "Web+ change timed out", message)
    if finished:
        if succeeded:
            return ChangeStatus(SUCCEEDED, "Web+ change succeeded")
        return ChangeStatus(FAILED, "Web+ change finished without success", message)
    if paused:
        return ChangeStatus(
            PAUSED, "Web+ change paused between batches (resume it with ResumeChange)"
        )
    return ChangeStatus(RUNNING, "Web+ change running")
