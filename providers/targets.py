"""Restart targets: one class per kind, each knowing how it is validated, restarted and read.

The same classes serve two roles:

* in the Pulumi program, users build them (``EdasApplication(app_id=...)``); fields may be
  Pulumi Outputs, and :meth:`to_input` turns them into the plain dict stored as an input;
* in the provider process, :func:`parse_targets` rebuilds them from those dicts (now plain
  values), validating every field, and the provider calls :meth:`restart` and :meth:`status`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pulumi.output import Unknown

from providers.aliyun import AliyunClient, BusinessError, RestartResult

# The value Pulumi puts in place of an input that is not known yet (during preview).
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

RUNNING, PAUSED, SUCCEEDED, FAILED, UNKNOWN_STATE = (
    "running",
    "paused",
    "succeeded",
    "failed",
    "unknown",
)


@dataclass(frozen=True)
class ChangeStatus:
    """Where one change order (EDAS) or change (Web+) stands.

    ``state`` is one of running, paused, succeeded, failed, unknown; ``detail`` is the raw
    status in words (e.g. ``EDAS status 3 (failed)``); ``message`` is the failing task's error
    message when the API gives one.
    """

    state: str
    detail: str
    message: str = ""

    @property
    def finished(self) -> bool:
        return self.state in (SUCCEEDED, FAILED)


class Failures:
    """Collects check failures as (property path, reason) pairs."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, reason: str) -> None:
        self.items.append((path, reason))


def is_unknown(value: Any) -> bool:
    """True for an input not known yet (a preview before an Output resolves).

    The SDK hands check/diff such values as ``pulumi.output.Unknown`` objects; the raw wire
    sentinel string is accepted too.
    """
    return isinstance(value, Unknown) or (isinstance(value, str) and value == UNKNOWN)


def show(value: Any) -> str:
    """A value as the user wrote it: Pulumi sends every number as a float (2 -> 2.0)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


def _check_id(value: Any, path: str, what: str, failures: Failures) -> None:
    if is_unknown(value):
        return
    if not isinstance(value, str):
        failures.add(path, f"must be a string: the {what}, got {show(value)}; quote it in YAML")
    elif not value.strip():
        failures.add(
            path, f'must be a non-empty string: the {what}, e.g. {path.split(".")[-1]}="..."'
        )
    elif value != value.strip() or any(c.isspace() for c in value):
        failures.add(path, f"must not contain whitespace: got {value!r}")
    elif "," in value:
        failures.add(path, f"must be a single id without commas: got {value!r}")


def _check_int(
    value: Any, path: str, failures: Failures, *, low: int, high: int | None = None
) -> None:
    if value is None or is_unknown(value):
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        failures.add(path, f"must be a whole number, got {show(value)}")
        return
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        failures.add(path, f"must be {bound}, got {show(value)}")


def _check_bool(value: Any, path: str, failures: Failures) -> None:
    if value is None or is_unknown(value):
        return
    if not isinstance(value, bool):
        failures.add(path, f"must be true or false, got {show(value)}")


def _as_int(value: Any) -> int | None:
    return None if value is None else int(value)


class _Target:
    """What every kind of target shares: restart once, waiting while another change runs."""

    def _send_restart(self, client: AliyunClient, known_change_ids: list[str]) -> RestartResult:
        raise NotImplementedError

    def _busy(self, client: AliyunClient, exc: BusinessError) -> bool:
        """Whether a refusal means "another change is still running"."""
        raise NotImplementedError

    def restart(
        self,
        client: AliyunClient,
        *,
        known_change_ids: Sequence[str] = (),
        deadline: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> RestartResult:
        """Restart the target; while another change still runs on it, wait and try again.

        A change still running (say, the restart of an interrupted ``pulumi up``) makes the
        service refuse a new one. Waiting for it beats failing: the restart this update owes
        still happens, once, after it. Other refusals, or running out of time (``deadline``, on
        ``clock``), raise the service's error. ``known_change_ids`` are never mistaken for this
        restart when a lost answer has to be looked up.
        """
        delay = 1.0
        while True:
            try:
                return self._send_restart(client, list(known_change_ids))
            except BusinessError as exc:
                if clock() + delay > deadline or not self._busy(client, exc):
                    raise
            sleep(delay)
            delay = min(delay * 1.5, 10.0)


@dataclass(frozen=True)
class EdasApplication(_Target):
    """An EDAS application in an ECS cluster, restarted with ``RestartApplication``.

    Args:
        app_id: the application id (``ListApplication`` shows it).
        ecc_ids: restart only these elastic compute containers (``QueryApplicationStatus``
            shows them); default: every instance of the application.
    """

    app_id: Any
    ecc_ids: Sequence[Any] | None = None

    kind: ClassVar[str] = "edas"
    fields: ClassVar[frozenset[str]] = frozenset({"kind", "app_id", "ecc_ids"})

    @property
    def key(self) -> str:
        return f"edas:{self.app_id}"

    def to_input(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "app_id": self.app_id}
        if self.ecc_ids is not None:
            out["ecc_ids"] = (
                list(self.ecc_ids) if isinstance(self.ecc_ids, list | tuple) else self.ecc_ids
            )
        return out

    @classmethod
    def validate(cls, raw: Mapping[str, Any], path: str, failures: Failures) -> None:
        _check_id(raw.get("app_id"), f"{path}.app_id", "EDAS application id", failures)
        ecc = raw.get("ecc_ids")
        if ecc is None or is_unknown(ecc):
            return
        if not isinstance(ecc, list):
            failures.add(f"{path}.ecc_ids", f"must be a list of ECC ids, got {ecc!r}")
            return
        if not ecc:
            failures.add(
                f"{path}.ecc_ids",
                "must not be empty: leave ecc_ids out to restart every instance",
            )
        seen: set[str] = set()
        for i, one in enumerate(ecc):
            _check_id(one, f"{path}.ecc_ids[{i}]", "ECC id", failures)
            if isinstance(one, str):
                if one in seen:
                    failures.add(f"{path}.ecc_ids[{i}]", f"duplicate ECC id {one!r}")
                seen.add(one)

    @classmethod
    def from_input(cls, raw: Mapping[str, Any]) -> EdasApplication:
        ecc = raw.get("ecc_ids")
        return cls(app_id=raw["app_id"], ecc_ids=tuple(ecc) if ecc else None)

    def _send_restart(self, client: AliyunClient, known_change_ids: list[str]) -> RestartResult:
        return client.restart_application(
            self.app_id,
            ecc_ids=list(self.ecc_ids) if self.ecc_ids else None,
            known_change_ids=known_change_ids,
        )

    def _busy(self, client: AliyunClient, exc: BusinessError) -> bool:
        # EDAS refuses with a body Code whose value is not documented; what is known is that a
        # change order in progress blocks a new one, so look for one.
        orders = client.list_recent_change_orders(self.app_id)
        return any(_edas_in_progress(order.get("Status")) for order in orders)

    def status(self, client: AliyunClient, change_id: str) -> ChangeStatus:
        info = client.get_change_order_info(change_id)
        return decode_edas_status(info)


def _edas_in_progress(status: Any) -> bool:
    try:
        return _EDAS_STATUS.get(int(status), (FAILED, ""))[0] in (RUNNING, PAUSED)
    except (TypeError, ValueError):
        return False


# EDAS change order Status codes (GetChangeOrderInfo; doc-detail/62072).
_EDAS_STATUS: dict[int, tuple[str, str]] = {
    0: (RUNNING, "ready"),
    1: (RUNNING, "executing"),
    2: (SUCCEEDED, "success"),
    3: (FAILED, "failed"),
    6: (FAILED, "terminated"),
    7: (FAILED, "partially successful"),
    8: (PAUSED, "waiting for manual confirmation of the next batch"),
    9: (RUNNING, "waiting for the next automatic batch"),
    10: (FAILED, "failed on a system exception"),
}


def _find_error_message(node: Any) -> str:
    """The first non-empty task/pipeline error message anywhere in a change order body."""
    if isinstance(node, Mapping):
        for key in ("TaskErrorMessage", "ErrorMessage", "TaskMessage"):
            value = node.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return ""
    for child in children:
        found = _find_error_message(child)
        if found:
            return found
    return ""


def decode_edas_status(info: Mapping[str, Any]) -> ChangeStatus:
    raw = info.get("Status")
    try:
        code = int(raw)
    except (TypeError, ValueError):
        return ChangeStatus(UNKNOWN_STATE, f"EDAS status {raw!r} (not a number)")
    state, words = _EDAS_STATUS.get(code, (RUNNING, "unknown status, still waiting"))
    message = _find_error_message(info) if state == FAILED else ""
    return ChangeStatus(state, f"EDAS status {code} ({words})", message)


@dataclass(frozen=True)
class WebPlusEnvironment(_Target):
    """A Web+ environment, restarted with ``RestartAppEnv``.

    Args:
        env_id: the environment id (``we-...``).
        batch_size: instances restarted per batch (default: the service's choice).
        batch_percent: percentage of instances per batch, 1-100; instead of batch_size.
        batch_interval: wait between batches, as the API's BatchInterval.
        pause_between_batches: pause after each batch until the change is resumed.
    """

    env_id: Any
    batch_size: Any = None
    batch_percent: Any = None
    batch_interval: Any = None
    pause_between_batches: Any = None

    kind: ClassVar[str] = "webplus"
    fields: ClassVar[frozenset[str]] = frozenset(
        {"kind", "env_id", "batch_size", "batch_percent", "batch_interval", "pause_between_batches"}
    )

    @property
    def key(self) -> str:
        return f"webplus:{self.env_id}"

    def to_input(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "env_id": self.env_id}
        for name in ("batch_size", "batch_percent", "batch_interval", "pause_between_batches"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    @classmethod
    def validate(cls, raw: Mapping[str, Any], path: str, failures: Failures) -> None:
        _check_id(raw.get("env_id"), f"{path}.env_id", "Web+ environment id", failures)
        _check_int(raw.get("batch_size"), f"{path}.batch_size", failures, low=1)
        _check_int(raw.get("batch_percent"), f"{path}.batch_percent", failures, low=1, high=100)
        _check_int(raw.get("batch_interval"), f"{path}.batch_interval", failures, low=0)
        _check_bool(raw.get("pause_between_batches"), f"{path}.pause_between_batches", failures)
        if raw.get("batch_size") is not None and raw.get("batch_percent") is not None:
            failures.add(
                f"{path}.batch_percent",
                "set either batch_size (instances per batch) or batch_percent, not both",
            )

    @classmethod
    def from_input(cls, raw: Mapping[str, Any]) -> WebPlusEnvironment:
        return cls(
            env_id=raw["env_id"],
            batch_size=_as_int(raw.get("batch_size")),
            batch_percent=_as_int(raw.get("batch_percent")),
            batch_interval=_as_int(raw.get("batch_interval")),
            pause_between_batches=raw.get("pause_between_batches"),
        )

    def _send_restart(self, client: AliyunClient, known_change_ids: list[str]) -> RestartResult:
        return client.restart_app_env(
            self.env_id,
            batch_size=self.batch_size,
            batch_percent=self.batch_percent,
            batch_interval=self.batch_interval,
            pause_between_batches=self.pause_between_batches,
            known_change_ids=known_change_ids,
        )

    def _busy(self, client: AliyunClient, exc: BusinessError) -> bool:
        return exc.code == "EnvOnChanging"

    def status(self, client: AliyunClient, change_id: str) -> ChangeStatus:
        change = client.describe_change(self.env_id, change_id)
        return decode_webplus_change(change)


def _flag(change: Mapping[str, Any], *names: str) -> bool:
    for name in names:
        value = change.get(name)
        if isinstance(value, str):
            value = value.strip().lower() == "true"
        if value:
            return True
    return False


def decode_webplus_change(change: Mapping[str, Any]) -> ChangeStatus:
    """Read the Web+ change flags (there is no single status enum)."""
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


TARGET_KINDS: dict[str, type[EdasApplication] | type[WebPlusEnvironment]] = {
    EdasApplication.kind: EdasApplication,
    WebPlusEnvironment.kind: WebPlusEnvironment,
}
_ID_FIELD = {"app_id": EdasApplication, "env_id": WebPlusEnvironment}


def _kind_of(raw: Mapping[str, Any], path: str, failures: Failures) -> type | None:
    kind = raw.get("kind")
    has = [name for name in _ID_FIELD if name in raw]
    if kind is not None and not is_unknown(kind):
        cls = TARGET_KINDS.get(kind)
        if cls is None:
            failures.add(f"{path}.kind", f"must be 'edas' or 'webplus', got {kind!r}")
            return None
        wrong = [name for name in has if _ID_FIELD[name] is not cls]
        if wrong:
            failures.add(path, f"a {kind} target takes no {wrong[0]}: use one entry per target")
            return None
        return cls
    if len(has) == 2:
        failures.add(
            path,
            "set either app_id (an EDAS application) or env_id (a Web+ environment), not both: "
            "use one entry per target",
        )
        return None
    if not has:
        failures.add(
            path,
            "names no target: use EdasApplication(app_id=...) or WebPlusEnvironment(env_id=...)",
        )
        return None
    return _ID_FIELD[has[0]]


@dataclass
class ParsedTargets:
    targets: list[EdasApplication | WebPlusEnvironment] = field(default_factory=list)
    normalized: list[Any] = field(default_factory=list)
    failures: Failures = field(default_factory=Failures)


def parse_targets(raw: Any, path: str = "targets") -> ParsedTargets:
    """Validate the ``targets`` input; return targets (when valid), normalized dicts, failures.

    Unknown values (preview before an Output resolves) are let through unchecked.
    """
    out = ParsedTargets()
    if is_unknown(raw):
        out.normalized = raw
        return out
    if raw is None:
        out.failures.add(
            path,
            "is required: list what to restart, e.g. [{app_id: <EDAS application id>}] or "
            "[{env_id: <Web+ environment id>}]",
        )
        return out
    if not isinstance(raw, list):
        out.failures.add(
            path,
            f"must be a list of EdasApplication/WebPlusEnvironment (or mappings with app_id / "
            f"env_id), got {type(raw).__name__}; write a list even for one target",
        )
        return out
    if not raw:
        out.failures.add(path, "must name at least one target")
        return out
    seen: dict[str, int] = {}
    for i, entry in enumerate(raw):
        here = f"{path}[{i}]"
        if is_unknown(entry):
            out.normalized.append(entry)
            continue
        if not isinstance(entry, Mapping):
            out.failures.add(
                here, f"must be an EdasApplication or WebPlusEnvironment, got {entry!r}"
            )
            continue
        cls = _kind_of(entry, here, out.failures)
        if cls is None:
            continue
        extra = sorted(set(entry) - cls.fields)
        if extra:
            allowed = ", ".join(sorted(cls.fields - {"kind"}))
            out.failures.add(
                f"{here}.{extra[0]}", f"unknown field for a {cls.kind} target; allowed: {allowed}"
            )
        before = len(out.failures.items)
        cls.validate(entry, here, out.failures)
        normalized = {
            "kind": cls.kind,
            **{k: v for k, v in entry.items() if k != "kind" and v is not None},
        }
        out.normalized.append(normalized)
        if len(out.failures.items) != before:
            continue
        ident = entry["app_id"] if cls is EdasApplication else entry["env_id"]
        if is_unknown(ident):
            continue
        target = cls.from_input(normalized)
        if target.key in seen:
            out.failures.add(
                here, f"duplicate target {target.key} (also targets[{seen[target.key]}])"
            )
            continue
        seen[target.key] = i
        out.targets.append(target)
    return out


def target_keys(raw: Any) -> list[str] | None:
    """The keys of a stored targets list, or None when any id is unknown or malformed."""
    if not isinstance(raw, list):
        return None
    keys = []
    for entry in raw:
        if not isinstance(entry, Mapping):
            return None
        found = [(name, cls) for name, cls in _ID_FIELD.items() if name in entry]
        if not found or is_unknown(entry[found[0][0]]):
            return None
        name, cls = found[0]
        keys.append(f"{cls.kind}:{entry[name]}")
    return sorted(keys)
