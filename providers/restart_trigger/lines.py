"""Lines lines while ``pulumi up`` waits: which change each target got, and where it stands.

One line naming the trigger, the target and its change id:

* when the change id is issued;
* when its status changes (running, batch k of n where the API says, waiting for manual
  confirmation, succeeded, failed);
* at most once per target per :data:`QUIET_INTERVAL` seconds while nothing changes (so a long
  wait is seen to be alive, not hung);
* when a target is not started (a failed canary, ``max_failures``, the deadline);
* with ``verify``: when a target's verification starts (what it checks), each time a check's
  answer changes (``verify.http[0] GET https://…/health: HTTP 500 (expected 2xx), body
  'oops'``), and when it passed or did not.

Lines hold keys, change ids and status words only, every one escaped (no terminal control
sequence from a server text); never a credential. Where they go is the caller's ``sink``: the
provider passes one that logs to the engine under the trigger's URN (``provider_server``), so
they appear on the trigger's row of ``pulumi up`` while it waits.

No pulumi import.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from restart_trigger.targets import ChangeStatus
from restart_trigger.validation import escaped

QUIET_INTERVAL = 30.0
"""Seconds between two lines for one target while its status does not change."""


@dataclass
class _Seen:
    change_id: str
    reading: tuple[str, str, str] = ("", "", "")
    last_line: float = 0.0
    since: float = 0.0


def describe(status: ChangeStatus) -> str:
    """A status in words: ``running, batch 2 of 3 (EDAS status 1 (executing))``."""
    text = status.state
    if status.batch:
        text += f", {status.batch}"
    return f"{text} ({status.detail})" if status.detail else text


class Lines:
    """The progress lines of one trigger's rollout (thread-safe: targets run in a pool)."""

    def __init__(
        self,
        trigger: str,
        sink: Callable[[str], None],
        *,
        clock: Callable[[], float] = time.monotonic,
        quiet_interval: float = QUIET_INTERVAL,
    ) -> None:
        self._trigger = escaped(trigger)
        self._sink = sink
        self._clock = clock
        self._quiet = quiet_interval
        self._seen: dict[str, _Seen] = {}
        self._lock = threading.Lock()

    def _line(self, key: str, text: str) -> None:
        self._send(f"{self._trigger}: {escaped(key)} {text}")

    def _send(self, line: str) -> None:
        try:
            self._sink(line)
        except Exception:  # noqa: BLE001 - a progress line never fails a restart
            pass

    def issued(self, key: str, change_id: str, *, earlier: bool = False) -> None:
        """The restart of ``key`` was accepted as change ``change_id`` (``earlier``: by an
        earlier update that did not see it finish; it is waited for, not sent again)."""
        now = self._clock()
        with self._lock:
            self._seen[key] = _Seen(change_id, last_line=now, since=now)
        if earlier:
            text = f"waiting for change {escaped(change_id)} of an earlier update, not restarting"
        else:
            text = f"restart issued: change {escaped(change_id)}"
        self._line(key, text)

    def observed(self, key: str, status: ChangeStatus) -> None:
        """A status read of ``key``'s change: a line if it changed, or if it has been quiet
        for ``quiet_interval``."""
        now = self._clock()
        with self._lock:
            seen = self._seen.get(key)
            if seen is None:
                return
            reading = (status.state, status.batch, status.detail)
            if reading != seen.reading:
                seen.reading, seen.since, seen.last_line = reading, now, now
                text = f"change {escaped(seen.change_id)}: {escaped(describe(status))}"
                if status.message:
                    text += f": {escaped(status.message)}"
            elif now - seen.last_line >= self._quiet:
                seen.last_line = now
                text = (
                    f"change {escaped(seen.change_id)}: still {escaped(describe(status))}, "
                    f"for {_duration(now - seen.since)}"
                )
            else:
                return
        self._line(key, text)

    def checking(self, key: str) -> None:
        """An earlier update sent ``key`` a restart without learning its outcome: it is looked
        for before anything is sent."""
        self._line(key, "outcome of an earlier restart unknown: looking for it, not restarting yet")

    def earlier(self, key: str, words: str) -> None:
        """At preview: what an earlier update left of ``key``'s restart for this hash, which
        the next ``up`` resolves first (``rollout.earlier_words``)."""
        self._line(key, escaped(words))

    def not_started(self, key: str, reason: str) -> None:
        """``key`` was not started in this update (it stays owed)."""
        self._line(key, escaped(reason))

    def warn(self, text: str) -> None:
        """A line about the whole rollout."""
        self._send(f"{self._trigger}: warning: {escaped(text)}")

    def verifying(self, key: str, labels: list[str], successes: int, within: float) -> None:
        """``key``'s change succeeded: its verification starts with these checks."""
        need = f"{successes} consecutive pass(es) each" if successes > 1 else "each must pass"
        self._line(
            key,
            f"verifying: {escaped(', '.join(labels))} ({need}, within {within:g}s)",
        )

    def checked(self, key: str, label: str, ok: bool, text: str) -> None:
        """A check of ``key``'s verification answered differently from its previous answer
        (the caller only reports changes)."""
        self._line(key, f"{escaped(label)}: {'pass' if ok else 'fail'}, {escaped(text)}")

    def verified(self, key: str) -> None:
        """``key``'s verification passed: the target is done."""
        self._line(key, "verified")

    def unverified(self, key: str, reason: str) -> None:
        """``key`` restarted but its verification did not pass."""
        self._line(key, f"restarted, not verified: {escaped(reason)}")

    def reverifying(self, key: str, change_id: str) -> None:
        """An earlier update restarted ``key`` for this hash (change ``change_id``) and its
        verification did not pass: it is verified again, not restarted."""
        self._line(
            key,
            f"restarted for this hash by an earlier update (change {escaped(change_id)}), not "
            "verified: verifying again, not restarting",
        )

    def failed(self, key: str, error: str) -> None:
        """``key`` did not restart (its restart was refused, or its wait ended in error)."""
        self._line(key, f"did not restart: {escaped(error)}")


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def silent(_line: str) -> None:
    """A sink that drops every line (tests, callers with nowhere to report)."""
