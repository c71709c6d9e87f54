"""Running the restarts of one update: the pool, the waits, and the failure text.

:func:`run_rollout` restarts each target once, then, with ``wait``, polls each change until
it finishes or the trigger's :class:`Deadline` runs out. It never raises for one target's
trouble: every target gets an :class:`Outcome`, and :func:`failure_text` turns the failed
ones into the message ``pulumi up`` shows (ids and server texts escaped: no terminal control
sequences).

Bounded: every trigger of a provider process shares one pool of at most
``MAX_CONCURRENT_RESTARTS`` threads (default 64; ``RESTART_TRIGGER_MAX_CONCURRENCY`` sets it),
so 5,000 targets run in at most that many threads and connections. Within a trigger, the
:class:`Rollout` rules decide when the next target starts: ``max_parallel`` is a rolling
window (a new target starts when one finishes), the first ``canary`` targets must succeed
before any other starts, and once more than ``max_failures`` targets failed no further one
starts. No target is started once the deadline has passed. Targets not started stay owed
(the update fails naming them and why). Each issued change id and each status change is
reported to a :class:`~restart_trigger.lines.Lines` as it happens.

No pulumi import: the provider's engine callbacks (``provider.py``) call this.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as first_done
from dataclasses import dataclass

from restart_trigger.aliyun import (
    AliyunClient,
    AliyunError,
    AuthError,
    NotFoundError,
    RestartOutcomeUnknown,
)
from restart_trigger.aliyun.recovery import SEND_RECORD, SendRecord
from restart_trigger.backoff import Backoff, Deadline
from restart_trigger.lines import Lines, silent
from restart_trigger.stopping import STOP, EngineGone, Stop
from restart_trigger.targets import FAILED, PAUSED, SUCCEEDED, ChangeStatus, Target
from restart_trigger.validation import escaped
from restart_trigger.verify import Answer, Check, HttpFetch, Probe, Spec, probe_checks
from restart_trigger.verify import run as run_checks

# Status polling: first look soon (restarts of small apps are quick), then ×1.25 up to every
# 10 s, so a finished change is seen within about a quarter of its duration (P3's budget).
POLL_BACKOFF = Backoff(first=0.5, factor=1.25, cap=10.0)

DEFAULT_MAX_CONCURRENT_RESTARTS = 64
NOT_STARTED = "not started: the trigger's timeout had passed; it restarts at the next `pulumi up`"
ENGINE_GONE = (
    "not started: the Pulumi engine went away (the CLI was killed or cancelled); it restarts "
    "at the next `pulumi up`"
)


def max_concurrent_restarts(environ: Mapping[str, str] = os.environ) -> int:
    """The process-wide cap on restarts in flight (``RESTART_TRIGGER_MAX_CONCURRENCY``)."""
    raw = environ.get("RESTART_TRIGGER_MAX_CONCURRENCY", "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_MAX_CONCURRENT_RESTARTS


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _shared_pool() -> ThreadPoolExecutor:
    """The one pool every trigger of this process restarts in (threads start lazily)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=max_concurrent_restarts(), thread_name_prefix="restart"
            )
        return _pool


class RestartFailed(Exception):
    """One or more targets did not restart; the message names each one and why."""


@dataclass(frozen=True)
class Unknown:
    """A restart sent without learning its outcome (its answer was lost, and looking did not
    tell in time): the snapshot of the target's change ids taken just before the send, the
    send's wall-clock time (epoch seconds) and the settle window that applied. The next
    update resolves it before anything else (``resolve_unknown``)."""

    snapshot: frozenset[str]
    sent_at: float
    settle_window: float | None = None


@dataclass
class Outcome:
    """What happened to one target during an update."""

    key: str
    change_id: str | None = None
    request_id: str | None = None
    status: ChangeStatus | None = None
    error: str | None = None
    started: bool = True
    unknown: Unknown | None = None
    """Set when the restart's outcome is unknown: what the next update needs to resolve it."""
    verify_error: str | None = None
    """Set when the target restarted but its verification did not pass: why (each check that
    did not pass and its last answer)."""
    verified: bool = False
    """A verification ran and passed."""
    reverify: bool = False
    """Not restarted in this update: an earlier update restarted it for this hash and its
    verification had not passed; only verified again."""

    @property
    def _restart_failed(self) -> bool:
        return self.error is not None or (self.status is not None and self.status.state == FAILED)

    @property
    def failed(self) -> bool:
        """The target is not done (not started counts: it is still owed): its restart failed,
        or its verification did not pass."""
        return self._restart_failed or self.verify_error is not None

    @property
    def restarted(self) -> bool:
        """Its restart was accepted and (with waits) its change did not fail (verified or not;
        also a target only verified again, restarted by an earlier update)."""
        return self.change_id is not None and not self._restart_failed

    @property
    def done(self) -> bool:
        """Restarted, and its verification (if any) passed: nothing left for this hash."""
        return self.restarted and self.verify_error is None

    @property
    def unsettled(self) -> bool:
        """A change was issued but not seen to finish (the wait ended first): not restarted,
        not known to have failed either."""
        change_failed = self.status is not None and self.status.state == FAILED
        return self.change_id is not None and self._restart_failed and not change_failed


@dataclass(frozen=True)
class Rollout:
    """How one trigger's targets are rolled out (the trigger's rollout inputs).

    ``max_parallel``: targets restarting at once (None: all), a rolling window;
    ``canary``: the first N targets restart, and must succeed, before any other starts;
    ``max_failures``: once more targets than this failed, no further target is started."""

    max_parallel: int | None = None
    canary: int = 0
    max_failures: int = 0


def run_rollout(
    client: AliyunClient,
    targets: Sequence[Target],
    *,
    known_change_ids: Mapping[str, str],
    wait: bool,
    deadline: Deadline,
    rollout: Rollout = Rollout(),
    lines: Lines | None = None,
    unsettled: Mapping[str, str] | None = None,
    unknown: Mapping[str, Unknown] | None = None,
    record_for: Callable[[str], SendRecord | None] | None = None,
    stop: Stop = STOP,
    verify_for: Mapping[str, Spec] | None = None,
    unverified: Mapping[str, str] | None = None,
    fetch: Callable[[Probe, float], Answer] | None = None,
) -> list[Outcome]:
    """Restart every target once and (with ``wait``) wait for its change; one Outcome each,
    in the order of ``targets``, following ``rollout`` within the process-wide cap. A target
    not started (a canary failed, too many failures, the deadline) gets an Outcome with
    ``started=False`` whose error says why. ``known_change_ids`` (key -> the change id of
    the last restart) are never mistaken for a new restart when a lost answer is looked
    up. ``unsettled`` (key -> a change an earlier update issued for this very hash but never
    saw finish) is waited for (with ``wait``) or adopted (without: a change still running or
    succeeded counts as this hash's restart) instead of restarting again; only if it failed,
    or is gone, does the target restart. ``unknown`` (key -> a restart an earlier update
    sent for this hash without learning its outcome) is resolved first
    (:func:`resolve_unknown`). ``record_for(key)`` is told about each send of that target
    (the send journal). Once ``stop`` is requested (the engine is gone), no further target
    starts and waits end.

    ``verify_for`` (key -> ``verify.Spec``): after the target's change succeeded, its checks
    must pass (:func:`verify_target`) before it counts as done; one that does not pass is a
    failure for ``canary`` and ``max_failures`` like a failed restart. ``unverified`` (key ->
    the change id of a restart an earlier update made for this very hash whose verification
    did not pass) is verified again, not restarted. ``fetch`` sends the HTTP probes (default:
    one ``verify.HttpFetch`` for the rollout)."""
    if fetch is None and any(spec.probes for spec in (verify_for or {}).values()):
        with HttpFetch() as own_fetch:
            return run_rollout(
                client,
                targets,
                known_change_ids=known_change_ids,
                wait=wait,
                deadline=deadline,
                rollout=rollout,
                lines=lines,
                unsettled=unsettled,
                unknown=unknown,
                record_for=record_for,
                stop=stop,
                verify_for=verify_for,
                unverified=unverified,
                fetch=own_fetch,
            )
    pool = _shared_pool()
    report = lines or Lines("", silent)
    window = rollout.max_parallel or len(targets) or 1
    canary = min(rollout.canary, len(targets))
    outcomes: dict[int, Outcome] = {}
    running: dict[Future[Outcome], int] = {}
    queue = list(enumerate(targets))

    def one(target: Target) -> Outcome:
        if deadline.expired():
            return Outcome(target.key, error=NOT_STARTED, started=False)
        if stop.requested():
            return Outcome(target.key, error=ENGINE_GONE, started=False)
        token = SEND_RECORD.set(record_for(target.key) if record_for else None)
        try:
            outcome = first_settle_then_restart(target)
        finally:
            SEND_RECORD.reset(token)
        spec = (verify_for or {}).get(target.key)
        succeeded = outcome.status is not None and outcome.status.state == SUCCEEDED
        if outcome.restarted and succeeded and (spec is not None or outcome.reverify):
            verify_target(client, target, outcome, spec, deadline, report, fetch, stop=stop)
        return outcome

    def first_settle_then_restart(target: Target) -> Outcome:
        known = known_change_ids.get(target.key)
        known_ids = [known] if known else []
        restarted = (unverified or {}).get(target.key)
        if restarted:
            # restarted for this hash by an earlier update: verify again, never restart
            report.reverifying(target.key, restarted)
            return Outcome(
                target.key,
                change_id=restarted,
                status=ChangeStatus(SUCCEEDED, "restarted by an earlier update"),
                reverify=True,
            )
        earlier = (unsettled or {}).get(target.key)
        if earlier:
            settled = await_earlier_change(
                client, target, earlier, deadline, report, wait=wait, stop=stop
            )
            if settled is not None:
                return settled
        elif (lost := (unknown or {}).get(target.key)) is not None:
            resolved = resolve_unknown(
                client, target, lost, known_ids, wait, deadline, report, stop=stop
            )
            if resolved is not None:
                return resolved
        return restart_target(client, target, known_ids, wait, deadline, report, stop=stop)

    def why_not(index: int) -> str | None:
        if stop.requested():
            return ENGINE_GONE
        failed = [o for o in outcomes.values() if o.failed and o.started]
        if canary and index >= canary and failed:
            canaries = [o.key for i, o in sorted(outcomes.items()) if i < canary and o.failed]
            if canaries:
                not_verified = all(
                    outcomes[i].restarted for i in outcomes if i < canary and outcomes[i].failed
                )
                what = "did not pass verification" if not_verified else "did not restart"
                return (
                    f"not started: the canary {', '.join(canaries)} {what}; it "
                    "restarts at the next `pulumi up`"
                )
        if len(failed) > rollout.max_failures:
            return (
                f"not started: {len(failed)} target(s) had failed, more than "
                f"max_failures={rollout.max_failures}; it restarts at the next `pulumi up`"
            )
        if deadline.expired():
            return NOT_STARTED
        return None

    while queue or running:
        while queue and len(running) < window:
            index, target = queue[0]
            if canary and index >= canary and any(i < canary for i in running.values()):
                break  # the rest waits until every canary finished
            reason = why_not(index)
            if reason is not None:
                break
            queue.pop(0)
            running[pool.submit(one, target)] = index
        if not running:
            break
        done, _ = first_done(running, return_when=FIRST_COMPLETED)
        for future in done:
            outcomes[running.pop(future)] = future.result()
    for index, target in queue:  # what was left: stopped by the rollout rules
        reason = why_not(index) or NOT_STARTED
        outcomes[index] = Outcome(target.key, error=reason, started=False)
        report.not_started(target.key, reason)
    return [outcomes[i] for i in range(len(targets))]


def verify_target(
    client: AliyunClient,
    target: Target,
    outcome: Outcome,
    spec: Spec | None,
    deadline: Deadline,
    lines: Lines,
    fetch: Callable[[Probe, float], Answer] | None,
    *,
    stop: Stop = STOP,
) -> None:
    """Verify a target whose change succeeded (``outcome``, updated in place): every HTTP probe
    of ``spec`` (sent with ``fetch``) and, with ``cloud``, the kind's view of its instances
    (``Target.instances``), each until it passed ``spec.successes`` times in a row, within
    ``spec.within`` and the deadline (``verify.run``). No spec (a target verified again whose
    ``verify`` was removed since): nothing to check, it passes."""
    if spec is None:
        outcome.verified = True
        lines.verified(target.key)
        return
    checks: list[Check] = []
    if spec.probes:
        if fetch is None:
            raise ValueError("HTTP probes need a fetch")
        checks += probe_checks(spec, fetch)
    if spec.cloud:
        checks.append(_cloud_check(client, target, spec, deadline))
    lines.verifying(target.key, [c.label for c in checks], spec.successes, spec.within)
    verdict = run_checks(
        checks,
        spec,
        deadline,
        report=lambda label, answer: lines.checked(target.key, label, answer.ok, answer.text),
        stop=stop.requested,
    )
    if verdict.passed:
        outcome.verified = True
        lines.verified(target.key)
    else:
        outcome.verify_error = verdict.reason
        lines.unverified(target.key, verdict.reason)


def _cloud_check(client: AliyunClient, target: Target, spec: Spec, deadline: Deadline) -> Check:
    """The cloud's view of ``target``'s instances as a check: one read per attempt, retried
    only within the attempt's time."""
    label = f"{spec.path}.cloud {target.instances_action or 'instances'}"

    def attempt(limit: float) -> Answer:
        try:
            view = target.instances(
                client, Deadline(limit, clock=deadline.clock, sleep=deadline.sleep)
            )
        except AliyunError as exc:
            return Answer(False, f"could not read: {exc}")
        return Answer(view.ready, view.detail)

    return Check(label, attempt)


def restart_target(
    client: AliyunClient,
    target: Target,
    known_change_ids: list[str],
    wait: bool,
    deadline: Deadline,
    lines: Lines | None = None,
    *,
    stop: Stop = STOP,
) -> Outcome:
    """Restart one target and wait for its change (see :func:`run_rollout`)."""
    report = lines or Lines("", silent)
    outcome = Outcome(target.key)
    try:
        result = target.request_restart(
            client, known_change_ids=known_change_ids, deadline=deadline
        )
    except EngineGone:
        outcome.error, outcome.started = ENGINE_GONE, False
    except RestartOutcomeUnknown as exc:
        outcome.error = f"restart outcome unknown: {exc}"
        if exc.snapshot is not None and exc.sent_at is not None:
            outcome.unknown = Unknown(exc.snapshot, exc.sent_at, exc.settle_window)
    except AliyunError as exc:
        refused = exc.operation in (None, target.restart_action)
        outcome.error = f"{'restart refused' if refused else 'not restarted'}: {exc}"
    except ValueError as exc:
        outcome.error = f"not restarted: {exc}"
    else:
        outcome.change_id, outcome.request_id = result.change_id, result.request_id
        report.issued(target.key, result.change_id)
        if wait:
            _wait(client, target, outcome, result.change_id, deadline, report, stop)
    if outcome.error is not None:
        report.failed(target.key, outcome.error)
    return outcome


def resolve_unknown(
    client: AliyunClient,
    target: Target,
    lost: Unknown,
    known_change_ids: list[str],
    wait: bool,
    deadline: Deadline,
    lines: Lines,
    *,
    stop: Stop = STOP,
) -> Outcome | None:
    """Resolve a restart an earlier update sent without learning its outcome, before
    restarting anything: a restart of the target absent from the snapshot taken before that
    send is adopted (and waited for, or with ``wait: false`` taken as it stands, as
    :func:`await_earlier_change`); None when the settle window since that send passed with none (the
    send never landed: restart anew). Still not known (several candidates, a look that
    fails, the deadline): an Outcome that keeps ``unknown`` for the next update; nothing is
    sent."""
    lines.checking(target.key)
    try:
        found = target.find_earlier_restart(
            client,
            before=lost.snapshot,
            sent_at=lost.sent_at,
            settle_window=lost.settle_window,
            known_change_ids=known_change_ids,
        )
    except AliyunError as exc:
        outcome = Outcome(target.key, error=f"restart outcome unknown: {exc}", unknown=lost)
        lines.failed(target.key, outcome.error)
        return outcome
    if found is None:
        return None
    return await_earlier_change(client, target, found, deadline, lines, wait=wait, stop=stop)


def await_earlier_change(
    client: AliyunClient,
    target: Target,
    change_id: str,
    deadline: Deadline,
    lines: Lines,
    *,
    wait: bool = True,
    stop: Stop = STOP,
) -> Outcome | None:
    """Wait for a change an earlier update issued and never saw finish. Its Outcome if it
    succeeded (the target restarted, nothing is sent) or is still not settled at the
    deadline; None if it failed or the service no longer knows it (restart anew).

    Without ``wait`` it is read once and adopted as it stands: running, paused or succeeded
    counts as this hash's restart (as a new restart with ``wait: false`` would, once
    accepted); failed or gone restarts anew; a read that fails keeps it to settle next time.
    Either way nothing is sent while an earlier change may still be ours."""
    outcome = Outcome(target.key, change_id=change_id)
    lines.issued(target.key, change_id, earlier=True)
    try:
        outcome.status = target.status(client, change_id)
    except NotFoundError:
        return None
    except AliyunError as exc:
        if not wait:
            outcome.error = f"could not read the status of change {change_id}: {exc}"
            lines.failed(target.key, outcome.error)
            return outcome
        # with waits: read again in the wait below, within the deadline
    if not wait:
        assert outcome.status is not None
        if outcome.status.state == FAILED:
            return None
        lines.observed(target.key, outcome.status)
        return outcome
    _wait(client, target, outcome, change_id, deadline, lines, stop)
    if outcome.status is not None and outcome.status.state == FAILED and outcome.error is None:
        return None
    if outcome.error is not None:
        lines.failed(target.key, outcome.error)
    return outcome


def _wait(
    client: AliyunClient,
    target: Target,
    outcome: Outcome,
    change_id: str,
    deadline: Deadline,
    report: Lines,
    stop: Stop = STOP,
) -> None:
    tries = POLL_BACKOFF.start(deadline)
    while True:
        if stop.requested():
            # the engine is gone: nobody would record what this wait sees; the send journal
            # holds the change id, so the next `pulumi up` waits for it instead
            outcome.error = f"stopped waiting for change {change_id}: the Pulumi engine went away"
            return
        tries.record_attempt()
        read_error: AliyunError | None = None
        try:
            outcome.status = target.status(client, change_id)
        except AuthError as exc:
            # Credentials or a signature the service refuses do not heal by waiting (keys are
            # renewed before they expire): fail now; the change stays to be waited for.
            outcome.error = f"could not read the status of change {change_id}: {exc}"
            return
        except AliyunError as exc:
            read_error = exc
        else:
            report.observed(target.key, outcome.status)
            if outcome.status.finished:
                return
        delay = tries.next_delay()
        if delay is None:
            if read_error is not None:
                outcome.error = f"could not read the status of change {change_id}: {read_error}"
            elif outcome.status is not None and outcome.status.state == PAUSED:
                outcome.error = (
                    f"timed out after {deadline.seconds:g}s: change {change_id} is waiting for "
                    f"someone ({outcome.status.detail}); release or resume it, or give the "
                    "trigger a `timeout` long enough for the confirmation"
                )
            else:
                last = outcome.status.detail if outcome.status else "no status read"
                outcome.error = (
                    f"timed out after {deadline.seconds:g}s waiting for change {change_id} "
                    f"(last status: {last}); raise `timeout` or set `wait` to false"
                )
            return
        tries.wait(delay)


def failure_text(outcomes: Sequence[Outcome], *, progress_saved: bool = True) -> str:
    """The message of a partly or wholly failed update: each failed target and why, the ones
    not started and why, the ones that did restart, and what the next ``pulumi up`` will do
    (``progress_saved``: whether state keeps the restarts that happened). A target that
    restarted but did not pass its verification is named with its checks' last answers."""
    failed = [o for o in outcomes if o.failed and o.started]
    skipped = [o for o in outcomes if not o.started]
    ok = [o for o in outcomes if not o.failed]
    unverified = [o for o in failed if o.restarted]
    owed = len(failed) + len(skipped)
    if unverified:
        lines = [
            f"{owed} of {len(outcomes)} target(s) are not done ({len(unverified)} restarted "
            "but not verified):"
        ]
    else:
        lines = [f"{owed} of {len(outcomes)} target(s) did not restart:"]
    lines += [f"  - {_describe_failure(o)}" for o in failed if not o.restarted]
    lines += [f"  - {_describe_unverified(o)}" for o in unverified]
    lines += [f"  - {escaped(o.key)}: {escaped(o.error)}" for o in skipped]
    restarted = [o for o in ok if not o.reverify]
    if restarted:
        lines.append(
            "  restarted: "
            + ", ".join(f"{escaped(o.key)} ({escaped(o.change_id)})" for o in restarted)
        )
    reverified = [o for o in ok if o.reverify]
    if reverified:
        lines.append(
            "  verified (restarted by an earlier update): "
            + ", ".join(f"{escaped(o.key)} ({escaped(o.change_id)})" for o in reverified)
        )
    unsettled = [o for o in failed if o.unsettled]
    if unsettled:
        lines.append(
            "  issued but not seen to finish: "
            + ", ".join(f"{escaped(o.key)} ({escaped(o.change_id)})" for o in unsettled)
            + "; the next `pulumi up` waits for these changes instead of restarting again"
        )
    unknown = [o for o in failed if o.unknown is not None]
    if unknown:
        lines.append(
            "  outcome unknown: "
            + ", ".join(escaped(o.key) for o in unknown)
            + "; the next `pulumi up` checks these first: it adopts a restart that appeared "
            "after the send (one absent from the change list read just before it) and sends "
            "again only if none has shown once the settle window since the send has passed"
        )
    if unverified and progress_saved:
        others = owed - len(unverified)
        lines.append(
            "State keeps the restarts that happened: the next `pulumi up` verifies "
            + ", ".join(escaped(o.key) for o in unverified)
            + " again (without restarting)"
            + (f" and restarts only the {others} other target(s) above." if others else ".")
        )
    elif not ok and (unsettled or unknown):
        lines.append(
            f"Nothing restarted yet: the next `pulumi up` owes the {owed} target(s) above."
        )
    elif not ok and not unverified:
        lines.append(
            f"Nothing restarted: the next `pulumi up` restarts the {owed} target(s) above again."
        )
    elif progress_saved:
        lines.append(
            f"State keeps the restarts that happened: the next `pulumi up` restarts only the "
            f"{owed} target(s) above."
        )
    else:
        lines.append(
            "The provider server could not save partial progress (see the README, "
            '"Rollouts"), so the trigger keeps its previous state: the next `pulumi up` '
            "restarts every target again."
        )
    return "\n".join(lines)


def _describe_unverified(outcome: Outcome) -> str:
    key, change = escaped(outcome.key), escaped(outcome.change_id)
    if outcome.reverify:
        return (
            f"{key} (change {change}, restarted by an earlier update for this hash): still not "
            f"verified: {escaped(outcome.verify_error)}"
        )
    return (
        f"{key} (change {change}): restarted, not verified: {escaped(outcome.verify_error)}; "
        "the next `pulumi up` verifies it again, without restarting it"
    )


def _describe_failure(outcome: Outcome) -> str:
    key, change = escaped(outcome.key), escaped(outcome.change_id)
    if outcome.error:
        where = f" (change {change})" if outcome.change_id else ""
        return f"{key}{where}: {escaped(outcome.error)}"
    status = outcome.status
    assert status is not None
    text = f"{key}: change {change} failed, {escaped(status.detail)}"
    return text + (f": {escaped(status.message)}" if status.message else "")
