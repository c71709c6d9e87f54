"""Web+ environments: restarted with ``RestartAppEnv``, waited for with ``DescribeChange``
(Web+ 2019-03-20)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from restart_trigger.aliyun import AliyunClient, BusinessError, RestartResult
from restart_trigger.targets.base import (
    FAILED,
    PAUSED,
    RUNNING,
    SUCCEEDED,
    ChangeStatus,
    InputSpec,
    Target,
)
from restart_trigger.validation import (
    KNOWN_AFTER_APPLY,
    Failures,
    as_int,
    check_bool,
    check_id,
    check_int,
    is_unknown,
    shown,
)

if TYPE_CHECKING:
    import pulumi

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
    """

    kind: ClassVar[str] = "webplus"

    env_id: pulumi.Input[str]
    batch_size: pulumi.Input[int] | None = None
    batch_percent: pulumi.Input[int] | None = None
    batch_interval: pulumi.Input[int] | None = None
    pause_between_batches: pulumi.Input[bool] | None = None


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
        return client.restart_app_env(
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
        return decode_change(client.describe_change(self.env_id, change_id))


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
