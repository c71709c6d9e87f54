"""One trigger's rollout and what state records of it: the core both front doors call.

The engine adapters (``provider.py``, the dynamic provider) only translate the engine's calls;
what a rollout does, and what it leaves in state, is here:

* :func:`settings_of`: the rollout inputs of a trigger (``Rollout``, ``wait``, the deadline);
* :func:`earlier_of`: what earlier updates left to resolve for this hash (state and the send
  journal); :func:`unverified_of`: the targets restarted for this hash whose verification
  did not pass (verified again, not restarted); :func:`earlier_words`: both as a preview says
  them;
* :func:`verify_specs`: the ``verify.Spec`` that applies to each target (its own, else the
  trigger's);
* :func:`roll_out`: restart the due targets through ``runner.run_rollout`` and fold the
  outcomes into the trigger's new outputs (:class:`Result`: the outputs, and the failure text
  when some targets stay owed; ``kept`` says whether state should record the outputs anyway);
* :func:`fold`: the per-target progress after a rollout;
* :func:`outputs_of`: the trigger's outputs, derived from its progress;
* :func:`refreshed`: the outputs after reading the recorded change orders' status again.

Pure: no pulumi import; the client and the progress sink are handed in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from restart_trigger.aliyun import AliyunClient, NotFoundError
from restart_trigger.backoff import Deadline
from restart_trigger.inputs import DEFAULT_TIMEOUT, inputs_of
from restart_trigger.journal import Journal, TargetJournal
from restart_trigger.lines import Lines
from restart_trigger.plan import owed_of, progress_of, unverified_for
from restart_trigger.runner import Outcome, Rollout, Unknown, failure_text, run_rollout
from restart_trigger.targets import RUNNING, UNKNOWN_STATE, Target, parse_targets
from restart_trigger.verify import Spec, effective, spec_of


@dataclass(frozen=True)
class Settings:
    """How one trigger rolls out: its ``Rollout`` rules, ``wait``, and its ``timeout``."""

    rollout: Rollout
    wait: bool
    timeout: float

    def deadline(self) -> Deadline:
        return Deadline(self.timeout)


def settings_of(props: Mapping[str, Any]) -> Settings:
    """The rollout settings of checked inputs ``props`` (defaults filled in)."""
    return Settings(
        rollout=Rollout(
            max_parallel=int(props["max_parallel"]) if props.get("max_parallel") else None,
            canary=int(props.get("canary") or 0),
            max_failures=int(props.get("max_failures") or 0),
        ),
        wait=props.get("wait", True) is not False,
        timeout=float(props.get("timeout") or DEFAULT_TIMEOUT),
    )


def verify_specs(props: Mapping[str, Any]) -> dict[str, Spec]:
    """Per target key, the checked ``verify`` that applies to it (its own ``verify``, else the
    trigger's; ``false`` or none: absent)."""
    parsed = parse_targets(props.get("targets"))
    out = {}
    for target in parsed.targets:
        own, own_path = parsed.verify.get(target.key, (None, ""))
        value, path = effective(props.get("verify"), own, own_path)
        spec = spec_of(value, path)
        if spec is not None:
            out[target.key] = spec
    return out


def targets_of(props: Mapping[str, Any]) -> list[Target]:
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


UNVERIFIED_FIELDS = ("unverified_hash", "unverified_reason")
"""What a target's progress record keeps while its restart for a hash has not passed
verification: the hash (equal to its ``hash``) and why, in words (never a header value).
``verified_at`` records when a verification last passed."""


def unverified_of(
    previous: Mapping[str, Mapping[str, Any]], new_hash: str, keys: list[str]
) -> dict[str, str]:
    """Per target key, the change id of its restart for ``new_hash`` whose verification did
    not pass (``plan.unverified_for``): verified again, never restarted again."""
    return {
        key: str(previous[key].get("change_id") or "")
        for key in keys
        if unverified_for(previous.get(key), new_hash)
    }


EARLIER_UNKNOWN = "outcome unknown, checked at up"
EARLIER_UNSETTLED = "issued earlier, not seen to finish: waited for at up"
EARLIER_UNVERIFIED = "restarted for this hash, not verified: verify again at up, no restart"
EARLIER_WHY = {
    EARLIER_UNVERIFIED: (
        "an earlier `pulumi up` restarted this target for this hash and its verification did "
        "not pass; the next `up` verifies it again and does not restart it"
    ),
    EARLIER_UNKNOWN: (
        "an earlier `pulumi up` sent this restart and never learned its outcome; the next "
        "`up` looks for it in the change list before sending anything"
    ),
    EARLIER_UNSETTLED: (
        "an earlier `pulumi up` issued this restart and did not see it finish; the next `up` "
        "waits for that change (or adopts it) before sending anything"
    ),
}


def earlier_words(
    olds: Mapping[str, Any] | None, news: Mapping[str, Any], keys: list[str]
) -> dict[str, str]:
    """Per target key, how a preview says what an earlier update left to resolve for the new
    hash (from state alone: :func:`earlier_of` without the journal, and
    :func:`unverified_of`): ``EARLIER_UNKNOWN``, ``EARLIER_UNSETTLED`` or
    ``EARLIER_UNVERIFIED`` (verify again at up). Empty when nothing is left."""
    new_hash = news.get("hash")
    if not olds or not isinstance(new_hash, str):
        return {}
    previous = progress_of(olds)
    unverified = unverified_of(previous, new_hash, keys)
    rest = [key for key in keys if key not in unverified]
    unsettled, unknown = earlier_of(previous, new_hash, None, rest)
    return {
        **{key: EARLIER_UNKNOWN for key in unknown},
        **{key: EARLIER_UNSETTLED for key in unsettled},
        **{key: EARLIER_UNVERIFIED for key in unverified},
    }


HASH_CHANGED = "hash changed"
OWED = "owed: the last rollout for this hash did not restart it"
ADDED = "added to the trigger, with restart_on_create"


def why_due(olds: Mapping[str, Any], news: Mapping[str, Any], key: str) -> str:
    """Why target ``key`` is due in an update from ``olds`` (the trigger's last outputs: its
    ``hash``, ``owed`` and ``progress``) to inputs ``news``, in words both front doors show:
    what an earlier update left to resolve (:func:`earlier_words`), else ``OWED``,
    ``HASH_CHANGED`` or ``ADDED``."""
    earlier = earlier_words(olds, news, [key])
    if key in earlier:
        return earlier[key]
    if olds.get("hash") == news.get("hash"):
        return OWED if key in owed_of(olds) else ADDED
    return HASH_CHANGED


def fold(
    previous: Mapping[str, Mapping[str, Any]],
    outcomes: list[Outcome],
    new_hash: str,
    now: str,
) -> dict[str, dict[str, Any]]:
    """The per-target progress after a rollout: a restart replaces the target's record; a
    target that did not restart keeps its last restart and what is still to resolve of this
    update's restart (a change not seen to finish, or an outcome unknown). A restart whose
    verification did not pass records ``unverified_hash``/``unverified_reason`` (the next
    update verifies it again); one that passed, ``verified_at``. A target only verified again
    keeps its record (its restart), with the verification's result."""
    progress = {k: dict(v) for k, v in previous.items()}
    for outcome in outcomes:
        if outcome.reverify:
            record = {
                k: v for k, v in progress.get(outcome.key, {}).items() if k not in UNVERIFIED_FIELDS
            }
            progress[outcome.key] = {**record, **_verification(outcome, new_hash, now)}
            continue
        if outcome.restarted:
            progress[outcome.key] = {
                "hash": new_hash,
                "change_id": outcome.change_id,
                "request_id": outcome.request_id or "",
                "status": outcome.status.state if outcome.status else RUNNING,
                "restarted_at": now,
                **_verification(outcome, new_hash, now),
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


def _verification(outcome: Outcome, new_hash: str, now: str) -> dict[str, Any]:
    """The record fields of an outcome's verification (none when none ran)."""
    if outcome.verify_error is not None:
        return {"unverified_hash": new_hash, "unverified_reason": outcome.verify_error}
    if outcome.verified:
        return {"verified_at": now}
    return {}


def outputs_of(
    props: Mapping[str, Any],
    progress: Mapping[str, Mapping[str, Any]],
    owed: list[str],
    restarted_hash: str,
) -> dict[str, Any]:
    """The trigger's outputs: its inputs, per-target ``progress`` of the targets it lists,
    what is still ``owed``, and the summary outputs derived from progress. No value is None
    (a null output reads as "[unknown]" in previews): "" and {} mean "not yet"."""
    keys = [t.key for t in targets_of(props)]
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


@dataclass(frozen=True)
class Result:
    """What a rollout produced: the trigger's new ``outputs``; ``failure``, the text naming
    each target still owed and why (None: every owed target restarted); ``kept``, whether the
    outputs hold anything the previous state does not (restarts, changes still to resolve),
    so that state must record them even though the update fails."""

    outputs: dict[str, Any]
    failure: str | None
    kept: bool
    outcomes: tuple[Outcome, ...]

    def failure_without_state(self) -> str:
        """The failure text when state cannot record ``outputs`` (the previous state stays)."""
        return failure_text(self.outcomes, progress_saved=False)


def roll_out(
    client: AliyunClient,
    props: Mapping[str, Any],
    olds: Mapping[str, Any] | None,
    due: tuple[str, ...] | None,
    *,
    deadline: Deadline,
    lines: Lines,
    journal: Journal | None = None,
    now: Callable[[], str] = _now,
) -> Result:
    """Restart the ``due`` targets of a trigger moving from ``olds`` to ``props`` (None:
    every target), resolving first what earlier updates left for this hash."""
    settings = settings_of(props)
    todo = [t for t in targets_of(props) if due is None or t.key in due]
    previous = progress_of(olds)
    new_hash = str(props.get("hash"))
    keys = [t.key for t in todo]
    unverified = unverified_of(previous, new_hash, keys)
    rest = [key for key in keys if key not in unverified]
    unsettled, unknown = earlier_of(previous, new_hash, journal, rest)
    outcomes = run_rollout(
        client,
        todo,
        known_change_ids={k: p["change_id"] for k, p in previous.items() if p.get("change_id")},
        wait=settings.wait,
        deadline=deadline,
        rollout=settings.rollout,
        lines=lines,
        unsettled=unsettled,
        unknown=unknown,
        record_for=(lambda key: TargetJournal(journal, key, new_hash)) if journal else None,
        verify_for=verify_specs(props) if settings.wait else None,
        unverified=unverified,
    )
    after = fold(previous, outcomes, new_hash, now())
    still_owed = [o.key for o in outcomes if not o.done]
    restarted_hash = (
        new_hash
        if any(o.restarted and not o.reverify for o in outcomes)
        else str((olds or {}).get("restarted_hash") or "")
    )
    return Result(
        outputs=outputs_of(props, after, still_owed, restarted_hash),
        failure=failure_text(outcomes) if still_owed else None,
        kept=after != previous,
        outcomes=tuple(outcomes),
    )


def carried_over(props: Mapping[str, Any], olds: Mapping[str, Any]) -> dict[str, Any]:
    """The outputs of an update that restarts nothing: the recorded progress carried over."""
    return outputs_of(props, progress_of(olds), [], str(olds.get("restarted_hash") or ""))


def refreshed(props: Mapping[str, Any], client_for: Callable[[Deadline], AliyunClient]) -> dict:
    """The outputs with each recorded change order's status read again (``pulumi refresh``);
    no API call when nothing was restarted yet. Also brings state written by 0.2 and older
    to today's shape (no null outputs)."""
    progress = progress_of(props)
    owed, restarted_hash = owed_of(props), str(props.get("restarted_hash") or "")
    if any(p.get("change_id") for p in progress.values()):
        with client_for(settings_of(props).deadline()) as client:
            for target in targets_of(props):
                change_id = (progress.get(target.key) or {}).get("change_id")
                if not change_id:
                    continue
                try:
                    state = target.status(client, change_id).state
                except NotFoundError:
                    state = UNKNOWN_STATE
                progress[target.key]["status"] = state
    return outputs_of(props, progress, owed, restarted_hash)
