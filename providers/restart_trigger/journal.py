"""The send journal: what a rollout is about to send, written to disk before it sends it.

Pulumi state only learns what a provider did when the provider answers the engine. A
provider killed mid-rollout (a machine crash, ``kill -9`` of every process, a CI job
cancelled) answers nothing, so state still holds the old hash and the next ``pulumi up``
would restart the interrupted targets a second time. The journal closes that gap on the
machine that ran the rollout: before each restart send it records, per target, the hash the
restart is for, the snapshot of the target's change ids taken just before the send
(``recovery``), and the wall-clock time; once the send is answered, the change id. The next
rollout of the same trigger for the same hash reads it first (``runner``):

* a recorded change id is ours for certain: it is waited for (or, with ``wait: false``,
  adopted), not sent again;
* a recorded snapshot without a change id (killed between the send and its answer) is
  resolved like a lost answer: exactly one restart absent from that snapshot is adopted;
  none after the settle window means the send never landed, and the target restarts.

Only a change absent from a snapshot we took is ever adopted, so another actor's restart
from before the send never is. A journal on another machine (a fresh CI runner) is not
seen: the bound of at most one extra restart per target per interruption then holds
(docs/ARCHITECTURE.md, "Exactly once").

Where: ``RESTART_TRIGGER_JOURNAL_DIR``, else ``$PULUMI_HOME/restart-trigger/journal``, else
``~/.pulumi/restart-trigger/journal``; one small JSON file per trigger (named by a digest of
the backend URL and the trigger's URN), holding ids, hashes and times: never a credential.
Writes are atomic (a temporary file renamed over the old one). Pure: no pulumi import.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from restart_trigger.validation import logger

log = logger(__name__)


def journal_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where journals are kept (see the module docstring)."""
    explicit = environ.get("RESTART_TRIGGER_JOURNAL_DIR", "").strip()
    if explicit:
        return Path(explicit)
    home = environ.get("PULUMI_HOME", "").strip()
    base = Path(home) if home else Path.home() / ".pulumi"
    return base / "restart-trigger" / "journal"


@dataclass(frozen=True)
class Sent:
    """One target's last send for a hash: the snapshot taken before it, when it was sent
    (wall clock, epoch seconds), and its change id once answered."""

    hash: str
    snapshot: frozenset[str]
    sent_at: float
    change_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "hash": self.hash,
            "snapshot": sorted(self.snapshot),
            "sent_at": self.sent_at,
        }
        if self.change_id:
            out["change_id"] = self.change_id
        return out

    @classmethod
    def from_json(cls, raw: Any) -> Sent | None:
        if not isinstance(raw, Mapping):
            return None
        snapshot, sent_at, hash_ = raw.get("snapshot"), raw.get("sent_at"), raw.get("hash")
        change_id = raw.get("change_id")
        if (
            not isinstance(hash_, str)
            or not isinstance(snapshot, list)
            or not all(isinstance(i, str) for i in snapshot)
            or isinstance(sent_at, bool)
            or not isinstance(sent_at, (int, float))
            or (change_id is not None and not isinstance(change_id, str))
        ):
            return None
        return cls(hash_, frozenset(snapshot), float(sent_at), change_id or None)


class Journal:
    """The journal of one trigger (``trigger``: its URN; ``resource_id``: its id, None for a
    create). Thread-safe: the targets of a rollout record from their own threads."""

    def __init__(
        self,
        trigger: str,
        resource_id: str | None,
        *,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        backend = environ.get("PULUMI_BACKEND_URL", "")
        digest = hashlib.sha256(f"{backend}\n{trigger}".encode()).hexdigest()[:32]
        self.path = journal_dir(environ) / f"{digest}.json"
        self.trigger = trigger
        self.resource_id = resource_id
        self._lock = threading.Lock()
        self._entries: dict[str, Sent] = {}
        self._loaded = False

    # -- reading -------------------------------------------------------------------------------
    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("ignoring an unreadable send journal %s: %s", self.path, exc)
            return
        if not isinstance(raw, Mapping) or raw.get("trigger") != self.trigger:
            return
        # An update's journal belongs to that trigger id only; a create's (no id yet) to the
        # next create of the same URN.
        if raw.get("resource_id") != self.resource_id:
            return
        entries = raw.get("entries")
        if isinstance(entries, Mapping):
            for key, value in entries.items():
                sent = Sent.from_json(value)
                if isinstance(key, str) and sent is not None:
                    self._entries[key] = sent

    def earlier(self, key: str, hash_: str) -> Sent | None:
        """What an earlier, unanswered rollout sent ``key`` for ``hash_``, if anything."""
        with self._lock:
            self._load()
            sent = self._entries.get(key)
        return sent if sent is not None and sent.hash == hash_ else None

    # -- writing -------------------------------------------------------------------------------
    def sending(self, key: str, hash_: str, snapshot: frozenset[str], sent_at: float) -> None:
        """Record, before it is sent, a restart of ``key`` for ``hash_``."""
        self._put(key, Sent(hash_, frozenset(snapshot), sent_at))

    def accepted(self, key: str, hash_: str, change_id: str) -> None:
        """Record the change id a restart of ``key`` was answered with."""
        with self._lock:
            self._load()
            sent = self._entries.get(key)
        if sent is None or sent.hash != hash_:
            sent = Sent(hash_, frozenset(), 0.0)
        self._put(key, Sent(sent.hash, sent.snapshot, sent.sent_at, change_id))

    def forget(self, key: str) -> None:
        """The last send of ``key`` was not accepted: nothing of it is left to resolve."""
        with self._lock:
            self._load()
            known = key in self._entries
        if known:
            self._put(key, None)

    def _put(self, key: str, sent: Sent | None) -> None:
        with self._lock:
            self._load()
            if sent is None:
                self._entries.pop(key, None)
            else:
                self._entries[key] = sent
            body = {
                "trigger": self.trigger,
                "resource_id": self.resource_id,
                "entries": {k: v.to_json() for k, v in sorted(self._entries.items())},
            }
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
                tmp.write_text(json.dumps(body, indent=1))
                os.replace(tmp, self.path)
            except OSError as exc:
                # The journal narrows a crash's double restart; it never stops a restart.
                log.warning("could not write the send journal %s: %s", self.path, exc)


class TargetJournal:
    """The journal as one target's restart sees it (what ``recovery`` calls around a send)."""

    def __init__(self, journal: Journal, key: str, hash_: str) -> None:
        self._journal, self._key, self._hash = journal, key, hash_

    def sending(self, snapshot: frozenset[str], sent_at: float) -> None:
        self._journal.sending(self._key, self._hash, snapshot, sent_at)

    def accepted(self, change_id: str) -> None:
        self._journal.accepted(self._key, self._hash, change_id)

    def not_accepted(self) -> None:
        self._journal.forget(self._key)
