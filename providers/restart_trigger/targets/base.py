"""What every kind of target shares: the change status it reports, and "restart once, waiting
while another change runs".

A kind of target is one module in this package (``edas``, ``webplus``, ...), holding two
classes:

* the *input* class users write in a Pulumi program (``EdasApplication(app_id=...)``): fields
  may be Pulumi Outputs, and ``to_input()`` turns it into the plain dict stored as an input;
* the *target* class (a :class:`Target`) that the provider rebuilds from that dict once every
  value is known and checked: plain typed fields, and the kind's knowledge of the API: its
  fields and their checks, how it restarts, when a refusal means "busy", how its status reads,
  how it is labelled in the preview summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from restart_trigger.aliyun import AliyunClient, AliyunError, BusinessError, RestartResult
from restart_trigger.aliyun.recovery import ChangeList
from restart_trigger.backoff import Backoff, Deadline
from restart_trigger.validation import Failures

RUNNING, PAUSED, SUCCEEDED, FAILED, UNKNOWN_STATE = (
    "running",
    "paused",
    "succeeded",
    "failed",
    "unknown",
)

# While another change runs on a target, its restart is refused: look again after 1 s, then
# back off to every 10 s (a restart of a large application takes minutes).
BUSY_BACKOFF = Backoff(first=1.0, factor=1.5, cap=10.0)


def key_of(kind: str, ident: Any) -> str:
    """A target's key, ``<kind>:<id>``: its name in outputs (``change_order_ids``), state and
    messages. The one place it is spelled."""
    return f"{kind}:{ident}"


@dataclass(frozen=True)
class InstancesView:
    """The cloud's own view of a target's instances after a change (``verify: {cloud: true}``):
    ``ready`` when every instance is running / ready as the kind's read API says; ``detail``
    in words, naming the operation and fields read (``2 of 2 instance(s) running (EDAS
    QueryApplicationStatus RunningInstanceCount/InstanceCount)``)."""

    ready: bool
    detail: str


@dataclass(frozen=True)
class ChangeStatus:
    """Where one change order (EDAS) or change (Web+) stands.

    ``state`` is one of running, paused, succeeded, failed, unknown; ``detail`` is the raw
    status in words (e.g. ``EDAS status 3 (failed)``); ``message`` is the failing task's error
    message when the API gives one; ``batch`` is where a batched change stands
    (``batch 2 of 3``) when the API says, else empty.
    """

    state: str
    detail: str
    message: str = ""
    batch: str = ""

    @property
    def finished(self) -> bool:
        return self.state in (SUCCEEDED, FAILED)


def batch_position(count: Any, pipelines: Any, status_key: str, done: int = 2) -> str:
    """``batch k of n`` of a batched change: ``count`` batches, one pipeline (a mapping) per
    batch whose ``status_key`` reads ``done`` once it has run. The first not done is the
    current one (all done: the last). Empty for a single batch, no batch count, or pipelines
    of another shape."""
    total = int_or_none(count)
    if total is None or total <= 1 or not isinstance(pipelines, list):
        return ""
    statuses = [p.get(status_key) for p in pipelines if isinstance(p, Mapping)]
    current = next((i for i, s in enumerate(statuses) if int_or_none(s) != done), len(statuses) - 1)
    return f"batch {min(max(current, 0) + 1, total)} of {total}"


def int_or_none(value: Any) -> int | None:
    """``int(value)``, or None when it is no integer: for API fields typed loosely (unlike
    ``validation.as_int``, which converts an already checked input)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class InputSpec:
    """What the input classes of every kind share: ``to_input()`` turns the dataclass into the
    plain dict stored as the trigger's input (its ``kind``, then every field that is set;
    tuples as lists). Subclasses are frozen dataclasses that set ``kind``."""

    kind: ClassVar[str]

    def to_input(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for spec in fields(self):  # type: ignore[arg-type]
            value = getattr(self, spec.name)
            if callable(getattr(type(value), "to_input", None)):  # a restart_trigger.Verify
                value = value.to_input()
            if value is not None:
                out[spec.name] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True)
class Target:
    """A target the provider restarts: one per kind, built by ``from_input`` from a checked
    input dict. Subclasses set the class attributes and implement the methods below."""

    kind: ClassVar[str]
    """The ``kind`` written in inputs, and the prefix of the target's key."""
    id_field: ClassVar[str]
    """The input field that names the target (``app_id``, ``env_id``)."""
    fields: ClassVar[frozenset[str]]
    """Every field an input dict of this kind may have (``kind`` included)."""
    title: ClassVar[str]
    """How the kind reads in words (``EDAS app``)."""
    restart_action: ClassVar[str]
    """The API action that restarts it (``RestartApplication``)."""
    changes: ClassVar[ChangeList]
    """How its changes are listed for lost-answer recovery (``aliyun.recovery.ChangeList``):
    the snapshot before each send and which new change may be our restart."""

    @property
    def ident(self) -> str:
        return getattr(self, self.id_field)

    @property
    def key(self) -> str:
        """``<kind>:<id>``: the target's name in outputs (``change_order_ids``) and messages."""
        return key_of(self.kind, self.ident)

    # -- the kind's inputs ----------------------------------------------------------------------
    @classmethod
    def validate(cls, raw: Mapping[str, Any], path: str, failures: Failures) -> None:
        """Add a failure for every bad field of ``raw`` (its id and options)."""
        raise NotImplementedError

    @classmethod
    def from_input(cls, raw: Mapping[str, Any]) -> Target:
        """Build the target from a checked input dict with every value known."""
        raise NotImplementedError

    @classmethod
    def strategy(cls, raw: Mapping[str, Any]) -> str:
        """How a target written as ``raw`` restarts (which instances, which batches), in
        words, for the preview summary; values not known yet read "(known after apply)"."""
        raise NotImplementedError

    # -- the kind's API -------------------------------------------------------------------------
    def call_restart_api(self, client: AliyunClient, known_change_ids: list[str]) -> RestartResult:
        """Ask the service to restart the target once (the client never resends blindly)."""
        raise NotImplementedError

    def is_busy(self, client: AliyunClient, refusal: BusinessError) -> bool:
        """Whether a refusal means "another change is still running on this target"."""
        raise NotImplementedError

    def status(self, client: AliyunClient, change_id: str) -> ChangeStatus:
        """Where the change ``change_id`` of this target stands."""
        raise NotImplementedError

    instances_action: ClassVar[str | None] = None
    """The read API of the cloud's view of its instances (``verify: {cloud: true}``); None:
    the kind has none, and ``cloud: true`` is refused at preview."""

    def instances(self, client: AliyunClient, deadline: Deadline) -> InstancesView:
        """Whether every instance of the target runs / is ready now, as the cloud says (one
        read, its retries within ``deadline``)."""
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------------
    def request_restart(
        self,
        client: AliyunClient,
        *,
        known_change_ids: list[str],
        deadline: Deadline,
    ) -> RestartResult:
        """Restart the target; while another change still runs on it, wait and try again.

        A change still running (say, the restart of an interrupted ``pulumi up``) makes the
        service refuse a new one. Waiting for it beats failing: the restart this update owes
        still happens, once, after it. Other refusals, or running out of time, raise the
        service's error. ``known_change_ids`` are never mistaken for this restart when a lost
        answer has to be looked up.
        """
        tries = BUSY_BACKOFF.start(deadline)
        while True:
            tries.record_attempt()
            try:
                return self.call_restart_api(client, known_change_ids)
            except BusinessError as refusal:
                delay = tries.next_delay()
                if delay is None or not self._busy(client, refusal):
                    raise
            tries.wait(delay)

    def find_earlier_restart(
        self,
        client: AliyunClient,
        *,
        before: frozenset[str],
        sent_at: float,
        settle_window: float | None,
        known_change_ids: list[str],
    ) -> str | None:
        """Resolve a restart an earlier update sent without learning its outcome: the one
        restart absent from ``before`` (the snapshot taken before that send), or None when
        the settle window from ``sent_at`` passed with none (restart anew); raises
        ``RestartOutcomeUnknown`` when that cannot be told (``AliyunClient.
        find_earlier_restart``)."""
        return client.find_earlier_restart(
            self.changes,
            self.ident,
            before=before,
            sent_at=sent_at,
            settle_window=settle_window,
            known_change_ids=known_change_ids,
        )

    def _busy(self, client: AliyunClient, refusal: BusinessError) -> bool:
        """``is_busy``, where a lookup that fails means "not known to be busy": the caller then
        raises the refusal itself, whose text says why the restart was refused."""
        try:
            return self.is_busy(client, refusal)
        except AliyunError:
            return False
