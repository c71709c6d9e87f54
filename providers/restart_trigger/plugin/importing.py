"""``pulumi import`` of a trigger: its id names the targets and the hash they last restarted
for; each target's last restart is read from the cloud.

The id is ``<kind>:<id>[,<kind>:<id>...]@<hash>``, the target keys state uses (``sae:app-1``,
``edas:app-2``, ``webplus:env-1``, ``edas-k8s:app-3``) and the program's ``hash``: e.g.
``pulumi import alirestart:index:RestartTrigger api 'sae:app-1,edas:app-2@sha256:…'``. Each
target's progress becomes the newest restart its kind lists (``AliyunClient.restarts_of``:
change id and status), recorded as restarted for that hash, so the next ``up`` with the same
hash restarts nothing; a target with no restart listed is recorded as never restarted (the
next ``up`` restarts it).

Pure: no pulumi import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from restart_trigger.backoff import Deadline
from restart_trigger.inputs import check_inputs
from restart_trigger.rollout import outputs_of, targets_of
from restart_trigger.targets import KINDS, RUNNING

IMPORT_SECONDS = 300.0
"""The deadline of an import's reads."""

FORMAT = "<kind>:<id>[,<kind>:<id>...]@<hash>"


def _bad(resource_id: str, why: str) -> ValueError:
    kinds = ", ".join(KINDS)
    return ValueError(
        f"cannot import a RestartTrigger from id {resource_id!r}: {why}. The id is {FORMAT} "
        f"(kinds: {kinds}), e.g. 'sae:app-1,edas:app-2@sha256:...', with the hash the "
        "program gives the trigger"
    )


def parse_id(resource_id: str) -> tuple[list[dict[str, str]], str]:
    """The targets (as inputs) and the hash an import id names."""
    keys, at, hash_ = resource_id.partition("@")
    if not at or not hash_.strip():
        raise _bad(resource_id, "it names no hash after '@'")
    targets = []
    for key in (k.strip() for k in keys.split(",")):
        kind, colon, ident = key.partition(":")
        cls = KINDS.get(kind)
        if not colon or cls is None or not ident:
            raise _bad(resource_id, f"{key!r} is not <kind>:<id>")
        targets.append({"kind": kind, cls.id_field: ident})
    return targets, hash_.strip()


def imported(resource_id: str, client_for: Callable[[Mapping[str, Any], Deadline], Any]) -> dict:
    """The outputs of the trigger ``resource_id`` names, its progress read from the cloud
    (``client_for(props, deadline)`` gives the client)."""
    targets, hash_ = parse_id(resource_id)
    props, failures = check_inputs({"hash": hash_, "targets": targets})
    if failures:
        path, reason = failures[0]
        raise _bad(resource_id, f"{path} {reason}")
    progress: dict[str, dict[str, Any]] = {}
    with client_for(props, Deadline(IMPORT_SECONDS)) as client:
        for target in targets_of(props):
            found = client.restarts_of(target.changes, target.ident)
            if not found:
                continue
            status = target.status(client, found[0])
            progress[target.key] = {
                "hash": hash_,
                "change_id": found[0],
                "request_id": "",
                "status": status.state if status else RUNNING,
                "restarted_at": "",
            }
    return outputs_of(props, progress, [], hash_ if progress else "")
