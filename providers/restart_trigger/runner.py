"""Running the restarts of one update: the pool, the waits, and the failure text.

:func:`run_restarts` restarts each target once (at most ``max_parallel`` at a time), then,
with ``wait``, polls each change until it finishes or the trigger's :class:`Deadline` runs
out. It never raises for one target's trouble: every target gets an :class:`Outcome`, and
:func:`failure_text` turns the failed ones into the message ``pulumi up`` shows.

No pulumi import: the provider's engine callbacks (``provider.py``) call this.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from restart_trigger.aliyun import AliyunClient, AliyunError
from restart_trigger.backoff import Backoff, Deadline
from restart_trigger.targets import FAILED, ChangeStatus, Target

# Status polling: first look soon (restarts of small apps are quick), then every 10 s at most.
POLL_BACKOFF = Backoff(first=0.5, factor=1.5, cap=10.0)


class RestartFailed(Exception):
    """One or more targets did not restart; the message names each one and why."""


@dataclass
class Outcome:
    """What happened to one target during an update."""

    key: str
    change_id: str | None = None
    request_id: str | None = None
    status: ChangeStatus | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None or (self.status is not None and self.status.state == FAILED)


def run_restarts(
    client: AliyunClient,
    targets: Sequence[Target],
    *,
    known_change_ids: Mapping[str, str],
    wait: bool,
    deadline: Deadline,
    max_parallel: int | None = None,
) -> list[Outcome]:
    """Restart every target once and (with ``wait``) wait for its change; one Outcome each,
    in the order of ``targets``. ``known_change_ids`` (key -> the change id of the last
    restart) are never mistaken for a new restart when a lost answer is looked up."""
    workers = min(max_parallel or len(targets), len(targets))

    def one(target: Target) -> Outcome:
        known = known_change_ids.get(target.key)
        return restart_one(client, target, [known] if known else [], wait, deadline)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="restart") as pool:
        return list(pool.map(one, targets))


def restart_one(
    client: AliyunClient,
    target: Target,
    known_change_ids: list[str],
    wait: bool,
    deadline: Deadline,
) -> Outcome:
    """Restart one target and wait for its change (see :func:`run_restarts`)."""
    outcome = Outcome(target.key)
    try:
        result = target.restart(client, known_change_ids=known_change_ids, deadline=deadline)
    except (AliyunError, ValueError) as exc:
        outcome.error = f"restart refused: {exc}"
        return outcome
    outcome.change_id, outcome.request_id = result.change_id, result.request_id
    if wait:
        _wait(client, target, outcome, result.change_id, deadline)
    return outcome


def _wait(
    client: AliyunClient, target: Target, outcome: Outcome, change_id: str, deadline: Deadline
) -> None:
    tries = POLL_BACKOFF.start(deadline)
    while True:
        tries.record_attempt()
        read_error: AliyunError | None = None
        try:
            outcome.status = target.status(client, change_id)
        except AliyunError as exc:
            read_error = exc
        else:
            if outcome.status.finished:
                return
        delay = tries.next_delay()
        if delay is None:
            if read_error is not None:
                outcome.error = f"could not read the status of change {change_id}: {read_error}"
            else:
                last = outcome.status.detail if outcome.status else "no status read"
                outcome.error = (
                    f"timed out after {deadline.seconds:g}s waiting for change {change_id} "
                    f"(last status: {last}); raise `timeout` or set wait=False"
                )
            return
        tries.wait(delay)


def failure_text(outcomes: Sequence[Outcome]) -> str:
    """The message of a partly or wholly failed update: each failed target and why, the ones
    that did restart, and what the next ``pulumi up`` will do."""
    failed = [o for o in outcomes if o.failed]
    ok = [o for o in outcomes if not o.failed]
    lines = [f"{len(failed)} of {len(outcomes)} target(s) did not restart:"]
    lines += [f"  - {_describe_failure(o)}" for o in failed]
    if ok:
        lines.append("  restarted: " + ", ".join(f"{o.key} ({o.change_id})" for o in ok))
    lines.append("The trigger keeps its previous hash, so the next `pulumi up` restarts again.")
    return "\n".join(lines)


def _describe_failure(outcome: Outcome) -> str:
    if outcome.error:
        where = f" (change {outcome.change_id})" if outcome.change_id else ""
        return f"{outcome.key}{where}: {outcome.error}"
    status = outcome.status
    assert status is not None
    text = f"{outcome.key}: change {outcome.change_id} failed, {status.detail}"
    return text + (f": {status.message}" if status.message else "")
