"""What a change of a trigger's inputs means: which targets restart, and what is replaced.

The one place this is decided. The provider's ``diff`` (what the engine shows and does),
``create`` and ``update`` (which targets to restart), and the preview summary (what a pull
request would restart) all call :func:`decide`, so the four cannot disagree.

State records, per target, the hash it last restarted for (the ``progress`` output), and the
targets a partly failed rollout still owes (``owed``). The rules:

* a new trigger (no olds) restarts every target only with ``restart_on_create``;
* when ``hash`` changes, every target whose recorded hash differs from the new one restarts
  (all of them, unless a partly failed rollout for this very hash already restarted some);
* with the same ``hash``, the targets a partly failed rollout left owed restart (the next
  ``pulumi up`` after a failure finishes the rollout, and restarts nothing twice);
* a target that restarted for the new hash but did not pass its verification (its progress
  records ``unverified_hash``) is due again, to be verified, not restarted
  (``Plan.verify_again``);
* with the same ``hash``, a target added to the list restarts only with
  ``restart_on_create``; a removed one is forgotten. The trigger is updated in place;
* a different ``region`` replaces the trigger (its ids name other applications): the new
  trigger restarts only with ``restart_on_create``;
* any other change (wait, timeout, rollout controls, endpoint, a target's batch settings)
  updates in place and restarts nothing;
* a value not known yet (preview before an Output resolves) makes the answer ``None``:
  "restarts if it turns out different".

Pure: no pulumi import, no API call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from restart_trigger.inputs import INPUTS
from restart_trigger.targets import target_keys
from restart_trigger.validation import is_unknown


@dataclass(frozen=True)
class Plan:
    """The decision for one trigger.

    Attributes:
        changes: whether the engine has anything to do at all.
        restart: True: some targets restart; False: none does; None: it depends on a value
            known only at apply.
        due: the keys (``edas:<app_id>``...) of the targets that restart now, in the order the
            trigger lists them; None when that depends on a value known only at apply.
        replaces: the inputs that force a replacement (empty: in place).
        verify_again: the keys among ``due`` that restarted for this hash in an earlier
            update without passing verification: they are verified again, not restarted.
    """

    changes: bool
    restart: bool | None
    due: tuple[str, ...] | None = ()
    replaces: tuple[str, ...] = ()
    verify_again: tuple[str, ...] = ()


def _differs(old: Any, new: Any) -> bool:
    return is_unknown(old) or is_unknown(new) or old != new


def _restart_on_create(news: Mapping[str, Any]) -> bool | None:
    flag = news.get("restart_on_create")
    return None if is_unknown(flag) else flag is True


def progress_of(olds: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Per target key, what state records of its last restart: ``hash``, ``change_id``,
    ``status``, ``restarted_at`` (and ``request_id``).

    State written before per-target progress existed (0.2 and older) recorded one restart
    for every target: each target listed in its ``change_order_ids`` restarted for its
    ``restarted_hash``."""
    if not olds:
        return {}
    progress = olds.get("progress")
    if isinstance(progress, Mapping):
        return {k: dict(v) for k, v in progress.items() if isinstance(v, Mapping)}
    restarted_hash = olds.get("restarted_hash")
    ids = olds.get("change_order_ids")
    if not restarted_hash or not isinstance(ids, Mapping):
        return {}
    statuses = olds.get("statuses") if isinstance(olds.get("statuses"), Mapping) else {}
    return {
        key: {
            "hash": restarted_hash,
            "change_id": change_id,
            "status": statuses.get(key),
            "restarted_at": olds.get("restarted_at"),
        }
        for key, change_id in ids.items()
    }


def unverified_for(record: Mapping[str, Any] | None, hash_: Any) -> bool:
    """Whether a target's progress ``record`` says it restarted for ``hash_`` and its
    verification has not passed (``unverified_hash``): it is verified again, not restarted."""
    return bool(record) and record.get("hash") == hash_ and record.get("unverified_hash") == hash_


def owed_of(olds: Mapping[str, Any] | None) -> list[str]:
    """The targets a partly failed rollout left owed (the ``owed`` output)."""
    owed = (olds or {}).get("owed")
    return [k for k in owed if isinstance(k, str)] if isinstance(owed, list) else []


def decide(olds: Mapping[str, Any] | None, news: Mapping[str, Any]) -> Plan:
    """Decide what moving a trigger from ``olds`` (its last outputs, which carry its inputs
    and its progress; None: it does not exist yet) to inputs ``news`` means. Keys other than
    inputs, ``progress`` and ``owed`` (``__provider``, other outputs) are ignored."""
    keys = target_keys(news.get("targets"), ordered=True)
    on_create = _restart_on_create(news)
    if olds is None:
        if on_create is None:
            return Plan(changes=True, restart=None, due=None)
        due = (keys if on_create else []) if keys is not None else (None if on_create else [])
        return Plan(changes=True, restart=on_create, due=None if due is None else tuple(due))

    changed = tuple(k for k in INPUTS if _differs(olds.get(k), news.get(k)))
    pending = owed_of(olds)
    if not changed and not pending:
        return Plan(changes=False, restart=False)

    if "region" in changed:
        # Other region, other applications: a new trigger, as if created.
        fresh = decide(None, news)
        return Plan(True, fresh.restart, fresh.due, replaces=("region",))

    new_hash = news.get("hash")
    if "hash" in changed and (is_unknown(olds.get("hash")) or is_unknown(new_hash)):
        return Plan(changes=True, restart=None, due=None)
    if keys is None:
        # Some target id is known only at apply: which targets are due is decided then.
        if "hash" in changed:
            return Plan(changes=True, restart=True, due=None)
        maybe = bool(pending) or on_create is not False
        return Plan(changes=True, restart=None if maybe else False, due=None if maybe else ())

    progress = progress_of(olds)

    def restarted_for_new_hash(key: str) -> bool:
        """Restarted for the new hash, and verified (or nothing to verify)."""
        record = progress.get(key)
        return record is not None and record.get("hash") == new_hash and not unverified(key)

    def unverified(key: str) -> bool:
        return unverified_for(progress.get(key), new_hash)

    if "hash" in changed:
        due = [k for k in keys if not restarted_for_new_hash(k)]
    else:
        old_keys = set(target_keys(olds.get("targets")) or ())
        if on_create is None and any(k not in old_keys for k in keys):
            return Plan(changes=True, restart=None, due=None)
        due = [
            k
            for k in keys
            if not restarted_for_new_hash(k) and (k in pending or (on_create and k not in old_keys))
        ]
    again = tuple(k for k in due if unverified(k))
    return Plan(changes=True, restart=bool(due), due=tuple(due), verify_again=again)
