"""What a change of a trigger's inputs means: restart, replace, or carry the last restart over.

The one place this is decided. The provider's ``diff`` (what the engine shows and does),
``create`` and ``update`` (whether to restart), and the preview summary (what a pull request
would restart) all call :func:`decide`, so the four cannot disagree.

The rules:

* a new trigger (no olds) restarts only with ``restart_on_create``;
* a ``hash`` change restarts every target, whatever else changed too (a new target that comes
  with a new hash restarts as well);
* with the same ``hash``, a different set of targets or a different ``region`` replaces the
  trigger (a new trigger, which restarts only with ``restart_on_create``): its outputs would
  describe targets it never restarted;
* any other change (options only: wait, timeout, max_parallel, endpoint, a target's batch
  settings) updates the trigger in place and carries the outputs of the last restart over;
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
        restart: True: the targets restart; False: they do not; None: it depends on a value
            known only at apply.
        replaces: the inputs that force a replacement (empty: in place). An in-place update
            that restarts nothing carries the last restart's outputs over.
    """

    changes: bool
    restart: bool | None
    replaces: tuple[str, ...] = ()


def _differs(old: Any, new: Any) -> bool:
    return is_unknown(old) or is_unknown(new) or old != new


def _restart_on_create(news: Mapping[str, Any]) -> bool | None:
    flag = news.get("restart_on_create")
    return None if is_unknown(flag) else flag is True


def decide(olds: Mapping[str, Any] | None, news: Mapping[str, Any]) -> Plan:
    """Decide what moving a trigger from inputs ``olds`` (None: it does not exist yet) to
    ``news`` means. Keys other than the trigger's inputs (``__provider``, outputs) are
    ignored."""
    if olds is None:
        return Plan(changes=True, restart=_restart_on_create(news))
    changed = tuple(k for k in INPUTS if _differs(olds.get(k), news.get(k)))
    if not changed:
        return Plan(changes=False, restart=False)
    if "hash" in changed:
        known = not (is_unknown(olds.get("hash")) or is_unknown(news.get("hash")))
        return Plan(changes=True, restart=True if known else None)
    replaces = []
    old_keys, new_keys = target_keys(olds.get("targets")), target_keys(news.get("targets"))
    if old_keys is not None and new_keys is not None and old_keys != new_keys:
        replaces.append("targets")
    if "region" in changed:
        replaces.append("region")
    if replaces:
        return Plan(changes=True, restart=_restart_on_create(news), replaces=tuple(replaces))
    return Plan(changes=True, restart=False)
